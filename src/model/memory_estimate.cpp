#include "model/memory_estimate.hpp"

#include "model/llama_model.hpp"

namespace llcuda {

MemoryEstimate estimate_memory(const GgufFile& file, const LlamaHparams& hparams,
                               size_t context_size) {
    MemoryEstimate estimate;
    for (const auto& tensor : file.tensors()) estimate.weight_bytes += tensor.byte_count;
    estimate.kv_cache_bytes =
        uint64_t{2} * hparams.layer_count * context_size * hparams.kv_dim() * sizeof(float);
    // forward_batch's activations for a full batch, plus the logits.
    const uint64_t per_token = 4 * hparams.embedding_dim + 2 * hparams.q_dim() +
                               2 * hparams.kv_dim() + 2 * hparams.feed_forward_dim;
    estimate.scratch_bytes =
        (LlamaModel::kMaxBatch * per_token + hparams.vocab_size) * sizeof(float);
    return estimate;
}

}  // namespace llcuda
