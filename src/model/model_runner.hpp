#pragma once
// Sequences through a model whose layers are split between the CPU and GPU segments: the first
// layers on the CPU (with their KV cache in host memory), the rest in segments on one or more
// GPUs (model/gpu_span.hpp), the last with the output head; the activations cross once per
// segment boundary per forward pass. With no GPU layers it is the CPU reference path. Several
// sequences, each with its own slot in the KV caches, can share a forward pass (continuous
// batching).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "backend/cpu/thread_pool.hpp"
#include "core/dtype.hpp"
#include "model/decoder.hpp"
#include "model/gpu_layers.hpp"
#include "model/gpu_span.hpp"
#include "model/kv_cache.hpp"
#include "model/token_batch.hpp"

namespace llcuda {

struct RunnerOptions {
    size_t context_size = 0;  // positions per sequence
    size_t sequences = 1;
    // The GPU segments, in layer order and ending at the last layer. Empty: the shorthand below.
    std::vector<GpuSpan> gpu_spans;
    size_t gpu_layers = 0;  // with no gpu_spans: the last gpu_layers layers on `device`
    int device = 0;
    DType kv_type = DType::F16;      // GPU layers' KV cache: F16 or Q8_0
    DType cpu_kv_type = DType::F32;  // CPU layers' KV cache: F32, F16 or Q8_0
    bool use_graphs = true;
    bool overlap_kernels = true;
    bool l2_prefetch = true;
    bool rope_fusion = true;
    bool row_parallel_attention = true;
    bool flash_attention = true;
    // Tokens per forward pass (bounds scratch memory); 0: 256 when CPU layers take part, else
    // 512.
    size_t ubatch_size = 0;
};

class ModelRunner {
  public:
    ModelRunner(const Decoder& model, ThreadPool& pool, const RunnerOptions& options);

    // Runs a batch of any size, each sequence continuing where it was. Afterwards, for each
    // output o of the batch, greedy_token(o) is the argmax of its next-token logits and
    // logits(o) holds them when want_logits is set (the CPU path always fills them).
    // With top_k > 0 (GPU only, at most max_device_top_k()), top_candidates(o) holds the k
    // best logits of output o and their ids instead.
    void forward(const TokenBatch& batch, bool want_logits, size_t top_k = 0);
    // Appends `tokens` to one sequence; its last token is the output.
    void forward(std::span<const int32_t> tokens, bool want_logits, size_t sequence = 0);
    // Appends `tokens` to one sequence without the output head (embeddings): `hidden` gets each
    // token's hidden state after the last layer, before the final norm ([tokens][embedding_dim]).
    void hidden_states(std::span<const int32_t> tokens, size_t sequence,
                       std::vector<float>& hidden);

    int32_t greedy_token(size_t output = 0) const { return greedy_.at(output); }
    std::span<const float> logits(size_t output = 0) const;
    std::pair<std::span<const float>, std::span<const int32_t>> top_candidates(size_t output) const;
    size_t max_device_top_k() const { return head() ? head()->max_top_k() : 0; }

    void clear(size_t sequence = 0) { cache_.clear(sequence); }
    // Prefix reuse: the tokens a sequence holds, and dropping all but its first `length` (the
    // GPU layers' caches keep every position, so only the CPU layers' rings can refuse).
    const std::vector<int32_t>& cached_tokens(size_t sequence) const {
        return cache_.tokens(sequence);
    }
    bool can_truncate(size_t sequence, size_t length) const {
        return cache_.can_truncate(sequence, length);
    }
    void truncate(size_t sequence, size_t length) { cache_.truncate(sequence, length); }
    size_t used(size_t sequence = 0) const { return cache_.used(sequence); }
    size_t sequences() const { return cache_.sequences(); }
    size_t context_size() const { return options_.context_size; }
    size_t gpu_layers() const { return gpu_layers_; }
    const std::vector<GpuSpan>& gpu_spans() const { return spans_; }
    size_t ubatch_size() const { return ubatch_; }
    // How many single-token sequences one forward pass may hold with each token's result equal
    // to what it is alone: 0 for any number (the CPU), 8 with GPU layers (the matrix-vector
    // kernels; larger passes take the tensor-core GEMM, which rounds differently).
    size_t batch_invariant_tokens() const;
    uint64_t gpu_bytes() const;
    uint64_t gpu_bytes(size_t segment) const { return segments_.at(segment)->device_bytes(); }
    size_t vocab_size() const { return model_.spec().vocab_size; }

  private:
    GpuLayers* head() const { return segments_.empty() ? nullptr : segments_.back().get(); }

    const Decoder& model_;
    ThreadPool& pool_;
    RunnerOptions options_;
    std::vector<GpuSpan> spans_;
    size_t gpu_layers_ = 0;
    size_t cpu_layers_;
    size_t ubatch_;
    KvCache cache_;  // the CPU layers' keys and values, and every sequence's length
    std::vector<std::unique_ptr<GpuLayers>> segments_;  // one per span
    std::vector<float> logits_;                         // [outputs][vocab]
    std::vector<float> part_logits_;                    // one forward pass's
    std::vector<float> hidden_;
    std::vector<int32_t> greedy_;
    std::vector<float> top_values_;  // [outputs][top_k_]
    std::vector<int32_t> top_ids_;
    size_t top_k_ = 0;
};

}  // namespace llcuda
