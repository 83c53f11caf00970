#include "model/memory_estimate.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>

#include "model/decoder.hpp"
#include "model/gpu_layers.hpp"

namespace llcuda {

MemoryEstimate estimate_memory(const GgufFile& file, const ModelSpec& hparams, size_t context_size,
                               DType kv_type) {
    MemoryEstimate estimate;
    for (const auto& tensor : file.tensors()) estimate.weight_bytes += tensor.byte_count;
    const uint64_t row_bytes = uint64_t{2} * llcuda::row_bytes(kv_type, hparams.kv_dim());  // K, V
    for (size_t l = 0; l < hparams.layer_count; ++l) {
        estimate.kv_cache_bytes +=
            row_bytes * hparams.cache_positions(l, context_size, kMaxCpuBatch);
        estimate.kv_cache_without_rings_bytes += row_bytes * context_size;
        if (hparams.layers[l].window > 0) ++estimate.window_layers;
    }
    // forward_batch's activations for a full batch, plus the logits.
    const uint64_t per_token = 4 * hparams.embedding_dim + 2 * hparams.q_dim() +
                               2 * hparams.kv_dim() + 2 * hparams.feed_forward_dim;
    estimate.scratch_bytes = (Decoder::kMaxBatch * per_token + hparams.vocab_size) * sizeof(float);
    return estimate;
}

}  // namespace llcuda

namespace llcuda {

namespace {

// The layer of a tensor named "blk.N.*", or nullopt for the others (embedding, output, norms).
std::optional<size_t> layer_of(const std::string& tensor_name) {
    size_t layer = 0;
    if (std::sscanf(tensor_name.c_str(), "blk.%zu.", &layer) == 1) return layer;
    return std::nullopt;
}

}  // namespace

uint64_t gpu_decode_bytes(const GgufFile& file, size_t first_gpu_layer) {
    uint64_t total = 0;
    for (const auto& tensor : file.tensors()) {
        const auto layer = layer_of(tensor.name);
        if (layer ? *layer >= first_gpu_layer
                  : tensor.name != "token_embd.weight" ||
                        file.find_tensor("output.weight") == nullptr) {
            total += tensor.byte_count;
        }
    }
    return total;
}

uint64_t gpu_scratch_bytes(const GgufFile& file, const ModelSpec& hparams) {
    constexpr uint64_t kBatch = kGpuMaxBatch;
    const uint64_t per_token = 4 * hparams.embedding_dim + 2 * hparams.q_dim() +
                               2 * hparams.kv_dim() + 2 * hparams.feed_forward_dim;
    uint64_t largest_matrix = 0;
    for (const auto& tensor : file.tensors()) {
        if (tensor.name.rfind("blk.", 0) == 0 && tensor.shape.size() == 2)
            largest_matrix = std::max<uint64_t>(largest_matrix, tensor.element_count);
    }
    return (kBatch * per_token + hparams.vocab_size) * sizeof(float) + largest_matrix * 2 +
           kBatch * std::max(hparams.feed_forward_dim, hparams.embedding_dim) * 2;
}

LayerFit fit_layers(const GgufFile& file, const ModelSpec& hparams, size_t context_size,
                    uint64_t free_bytes, DType kv_type, bool holds_output) {
    LayerFit fit;
    fit.total_layers = hparams.layer_count;
    std::vector<uint64_t> layer_bytes(hparams.layer_count, 0);
    uint64_t other_bytes = 0;
    for (const auto& tensor : file.tensors()) {
        const auto layer = layer_of(tensor.name);
        if (layer && *layer < layer_bytes.size()) {
            layer_bytes[*layer] += tensor.byte_count;
        } else if (holds_output || tensor.name == "token_embd.weight") {
            other_bytes += tensor.byte_count;  // output, norms, and the embedding table
        }
    }
    const uint64_t kv_per_layer = uint64_t{2} * context_size * row_bytes(kv_type, hparams.kv_dim());
    fit.kv_bytes_per_layer = kv_per_layer;
    for (const auto bytes : layer_bytes)
        fit.bytes_per_layer = std::max(fit.bytes_per_layer, bytes + kv_per_layer);
    fit.fixed_bytes = other_bytes + gpu_scratch_bytes(file, hparams) + kGpuReserveBytes;
    fit.bytes_for_all = fit.fixed_bytes + fit.bytes_per_layer * hparams.layer_count;
    if (free_bytes > fit.fixed_bytes && fit.bytes_per_layer > 0) {
        fit.layers_that_fit = std::min<uint64_t>(
            hparams.layer_count, (free_bytes - fit.fixed_bytes) / fit.bytes_per_layer);
    }
    return fit;
}

}  // namespace llcuda
