#pragma once
// The decoder-only transformer of every architecture in model/arch/ on the CPU: the reference
// forward pass, written once over the ModelSpec's per-layer features (biases, QK-norm, post
// norms, sliding windows, GeGLU, soft-capping) and the tensors of layer_weights.hpp.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/cpu/cpu_attention.hpp"
#include "backend/cpu/cpu_ops.hpp"
#include "backend/cpu/thread_pool.hpp"
#include "core/gguf/gguf_file.hpp"
#include "model/kv_cache.hpp"
#include "model/layer_weights.hpp"
#include "model/model_spec.hpp"
#include "model/token_batch.hpp"

namespace llcuda {

class Decoder {
  public:
    explicit Decoder(std::shared_ptr<const GgufFile> file);

    const ModelSpec& spec() const { return spec_; }
    const GgufFile& file() const { return *file_; }
    bool output_is_tied() const { return output_tied_; }
    uint64_t weight_bytes() const;

    // Processes `tokens` at positions cache.used() onwards in sequence 0, appends their keys and
    // values to the cache and writes the next-token logits of the last token (vocab_size floats).
    void forward(std::span<const int32_t> tokens, KvCache& cache, ThreadPool& pool,
                 std::vector<float>& logits) const;

    // Processes a batch of at most kMaxBatch tokens from any of the cache's sequences (each
    // continuing its sequence where the cache left it) and writes the logits of the batch's
    // output tokens: [outputs][vocab_size].
    void forward(const TokenBatch& batch, KvCache& cache, ThreadPool& pool,
                 std::vector<float>& logits) const;

    // Runs the embedding and layers [0, layer_end) for a batch of at most kMaxBatch tokens and
    // leaves their hidden states in `hidden` ([tokens][embedding_dim]): the CPU part of a split
    // between CPU and GPU. The cache holds the keys and values of those layers.
    void forward_layers(const TokenBatch& batch, size_t layer_end, KvCache& cache, ThreadPool& pool,
                        std::vector<float>& hidden) const;

    // Throws unless every token is in the vocabulary and each sequence's tokens continue it
    // (positions used, used + 1, ...) within the context.
    void check_batch(const TokenBatch& batch, const KvCache& cache) const;

    // Tokens processed per forward call when a long prompt is split (bounds the scratch memory).
    static constexpr size_t kMaxBatch = kMaxCpuBatch;

    // The weights, for backends that copy them elsewhere.
    const LayerWeights& layer(size_t index) const { return layers_[index]; }
    const WeightMatrix& token_embedding() const { return token_embedding_; }
    const WeightMatrix& output() const { return output_; }
    const std::vector<float>& output_norm() const { return output_norm_; }
    const RopeParams& rope(size_t layer) const { return spec_.layers[layer].rope; }
    const std::vector<float>& rope_freq_factors() const { return rope_freq_factors_; }

    // The CPU layers' matrix products and attention (the reference unless set; the engine sets
    // --cpu-kernels).
    void set_cpu_kernels(CpuKernels kernels) { cpu_kernels_ = kernels; }
    CpuKernels cpu_kernels() const { return cpu_kernels_; }

  private:
    WeightMatrix matrix(const std::string& name, size_t expected_columns,
                        size_t expected_rows) const;
    std::vector<float> vector(const std::string& name, size_t expected_size) const;
    void run_layers(const TokenBatch& batch, size_t layer_end, KvCache& cache, ThreadPool& pool,
                    std::vector<float>& x) const;
    void attention(size_t layer, const TokenBatch& batch, const float* queries, KvCache& cache,
                   float* out, ThreadPool& pool) const;
    void feed_forward(const LayerWeights& layer, size_t token_count, const float* normed,
                      float* gate, float* up, float* out, ThreadPool& pool) const;

    std::shared_ptr<const GgufFile> file_;
    ModelSpec spec_;
    std::vector<float> rope_freq_factors_;
    WeightMatrix token_embedding_;
    std::vector<LayerWeights> layers_;
    std::vector<float> output_norm_;
    WeightMatrix output_;
    bool output_tied_ = false;
    CpuKernels cpu_kernels_ = CpuKernels::Reference;
};

}  // namespace llcuda
