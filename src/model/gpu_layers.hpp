#pragma once
// A segment of the layers of a model of any architecture in model/arch/ on one GPU (and, when
// it ends the model, its final norm and output head), computing what the CPU Decoder computes
// from the same ModelSpec. Weights are
// copied to the device as stored (quantized blocks stay quantized), the KV cache lives there in
// F16 or Q8_0 (all positions of every layer, sliding-window ones too: the window is a bound on
// what attention reads), and a decode step is replayed from a captured CUDA graph: the host only
// writes the token and position before it and reads the greedy token (or the logits) after it.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/dtype.hpp"
#include "model/decoder.hpp"
#include "model/token_batch.hpp"

namespace llcuda {

// Prompt tokens per GPU forward call when no CPU layer takes part (sizes the GPU scratch).
constexpr size_t kGpuMaxBatch = 512;
// Tokens a pass may hold and still take the matrix-vector kernels, whose result for a token
// does not depend on the others in the pass (cuda::kMaxMatvecTokens).
constexpr size_t kGpuInvariantTokens = 8;

struct GpuLayersOptions {
    int device = 0;
    size_t first_layer = 0;   // layers before it run on the CPU or on an earlier segment
    size_t end_layer = 0;     // one past this segment's last layer; 0: the model's last layer
    size_t context_size = 0;  // per sequence
    size_t sequences = 1;     // each has its own slot of context_size positions in the KV cache
    DType kv_type = DType::F16;
    size_t max_batch = kGpuMaxBatch;
    bool use_graphs = true;
    bool overlap_kernels = true;         // programmatic dependent launch where the GPU has it
    bool l2_prefetch = true;             // matrix products fetch the next one's weights ahead
    bool rope_fusion = true;             // decode: Q/K/V products do RoPE and the KV store
    bool row_parallel_attention = true;  // decode attention: a thread per cache row
    bool flash_attention = true;         // prompt attention on tensor cores
};

class GpuLayers {
  public:
    GpuLayers(const Decoder& model, const GpuLayersOptions& options);
    ~GpuLayers();
    GpuLayers(const GpuLayers&) = delete;
    GpuLayers& operator=(const GpuLayers&) = delete;

    // Runs a batch (at most max_batch tokens, at most `sequences` outputs; the caller has checked
    // that each sequence continues where it was) through the GPU layers and the output head.
    // When the first layer is on the CPU, `hidden` holds the CPU layers' output
    // ([tokens][embedding_dim]); otherwise it is null and the embedding is looked up here.
    // Afterwards greedy_token(i) is the argmax of output i's logits, and logits() holds them
    // ([outputs][vocab_size]) when want_logits was set.
    // With top_k > 0 (at most max_top_k()), the k best logits of each output and their token ids
    // come back instead ([outputs][top_k], best first).
    void forward(const TokenBatch& batch, const float* hidden, bool want_logits, size_t top_k = 0);
    // The same batch continuing from the previous segment's output (which stays on its device;
    // it crosses by a peer copy, ordered after the previous segment's work by an event, with no
    // host synchronisation in between). Only the segment that ends the model has outputs.
    void forward_after(const GpuLayers& previous, const TokenBatch& batch, bool want_logits,
                       size_t top_k = 0);
    bool holds_output() const;
    // The last pass's hidden states after this segment's layers, before the final norm
    // ([tokens][embedding_dim], `tokens` at most the pass's), copied to the host (embeddings).
    void copy_hidden(float* destination, size_t tokens) const;
    int32_t greedy_token(size_t output) const;
    const std::vector<float>& logits() const;
    const std::vector<float>& top_values() const;
    const std::vector<int32_t>& top_ids() const;
    size_t max_top_k() const;

    uint64_t device_bytes() const;  // weights, KV cache and scratch allocated by this object

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace llcuda
