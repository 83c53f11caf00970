#include "model/decoder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "core/quant/quant.hpp"

namespace llcuda {

Decoder::Decoder(std::shared_ptr<const GgufFile> file)
    : file_(std::move(file)), spec_(read_model_spec(*file_)) {
    const auto& spec = spec_;
    token_embedding_ = matrix("token_embd.weight", spec.embedding_dim, spec.vocab_size);
    layers_.resize(spec.layer_count);
    for (size_t l = 0; l < spec.layer_count; ++l) {
        for_each_weight(spec, l, [&](const WeightDescription& weight) {
            if (weight.matrix != nullptr) {
                layers_[l].*weight.matrix = matrix(weight.name, weight.columns, weight.rows);
            } else {
                layers_[l].*weight.vector = vector(weight.name, weight.columns);
            }
        });
        split_fused_weights(spec, layers_[l]);
    }
    output_norm_ = vector("output_norm.weight", spec.embedding_dim);
    output_tied_ = file_->find_tensor("output.weight") == nullptr;
    output_ = output_tied_ ? token_embedding_
                           : matrix("output.weight", spec.embedding_dim, spec.vocab_size);
    if (file_->find_tensor("rope_freqs.weight")) {
        rope_freq_factors_ = vector("rope_freqs.weight", spec.layers[0].rope.rotated_dims / 2);
        for (auto& layer : spec_.layers) layer.rope.freq_factors = rope_freq_factors_.data();
    }
}

WeightMatrix Decoder::matrix(const std::string& name, size_t expected_columns,
                             size_t expected_rows) const {
    const auto* tensor = file_->find_tensor(name);
    if (!tensor) throw Error(fmt::format("{}: tensor '{}' is missing", file_->description(), name));
    if (tensor->shape.size() != 2 || tensor->shape[0] != expected_columns ||
        tensor->shape[1] != expected_rows) {
        std::string shape;
        for (const auto extent : tensor->shape)
            shape += (shape.empty() ? "" : " x ") + std::to_string(extent);
        throw Error(fmt::format("{}: tensor '{}' has shape [{}], the metadata implies [{} x {}]",
                                file_->description(), name, shape, expected_columns,
                                expected_rows));
    }
    WeightMatrix weights;
    weights.type = tensor->type;
    weights.data = file_->tensor_data(*tensor);
    weights.rows = expected_rows;
    weights.columns = expected_columns;
    weights.row_stride_bytes = row_bytes(tensor->type, expected_columns);
    return weights;
}

std::vector<float> Decoder::vector(const std::string& name, size_t expected_size) const {
    const auto* tensor = file_->find_tensor(name);
    if (!tensor) throw Error(fmt::format("{}: tensor '{}' is missing", file_->description(), name));
    if (tensor->element_count != expected_size) {
        throw Error(fmt::format("{}: tensor '{}' has {} elements, expected {}",
                                file_->description(), name, tensor->element_count, expected_size));
    }
    std::vector<float> values(expected_size);
    dequantize_row(tensor->type, file_->tensor_data(*tensor), values.data(), expected_size);
    return values;
}

uint64_t Decoder::weight_bytes() const {
    uint64_t total = 0;
    for (const auto& tensor : file_->tensors()) total += tensor.byte_count;
    return total;
}

void Decoder::check_batch(const TokenBatch& batch, const KvCache& cache) const {
    if (batch.empty()) throw Error("forward() needs at least one token");
    if (batch.positions.size() != batch.size() || batch.sequences.size() != batch.size())
        throw Error("forward(): a batch needs a position and a sequence for every token");
    std::vector<size_t> next(cache.sequences());
    for (size_t s = 0; s < next.size(); ++s) next[s] = cache.used(s);
    for (size_t i = 0; i < batch.size(); ++i) {
        const auto token = batch.tokens[i];
        if (token < 0 || static_cast<size_t>(token) >= spec_.vocab_size) {
            throw Error(fmt::format("token id {} is outside the vocabulary (0..{})", token,
                                    spec_.vocab_size - 1));
        }
        const auto sequence = static_cast<size_t>(batch.sequences[i]);
        if (batch.sequences[i] < 0 || sequence >= next.size()) {
            throw Error(fmt::format("sequence {} does not exist (the cache holds {})",
                                    batch.sequences[i], next.size()));
        }
        if (batch.positions[i] < 0 || static_cast<size_t>(batch.positions[i]) != next[sequence]) {
            throw Error(fmt::format("sequence {} continues at position {}, not {}", sequence,
                                    next[sequence], batch.positions[i]));
        }
        if (++next[sequence] > cache.context_size()) {
            throw Error(fmt::format(
                "the tokens do not fit: position {} of sequence {} is outside the {}-token "
                "context; use a larger --ctx-size or a shorter prompt",
                next[sequence] - 1, sequence, cache.context_size()));
        }
    }
    for (const auto index : batch.outputs) {
        if (index < 0 || static_cast<size_t>(index) >= batch.size())
            throw Error(fmt::format("output token {} is outside the batch", index));
    }
}

void Decoder::forward(std::span<const int32_t> tokens, KvCache& cache, ThreadPool& pool,
                      std::vector<float>& logits) const {
    if (tokens.empty()) throw Error("forward() needs at least one token");
    check_batch(TokenBatch::single(tokens.data(), tokens.size(), 0, cache.used(0)), cache);
    for (size_t begin = 0; begin < tokens.size(); begin += kMaxBatch) {
        const size_t count = std::min(kMaxBatch, tokens.size() - begin);
        forward(TokenBatch::single(tokens.data() + begin, count, 0, cache.used(0)), cache, pool,
                logits);
    }
}

void Decoder::forward(const TokenBatch& batch, KvCache& cache, ThreadPool& pool,
                      std::vector<float>& logits) const {
    std::vector<float> x;
    forward_layers(batch, spec_.layer_count, cache, pool, x);
    const size_t dim = spec_.embedding_dim;
    const size_t outputs = batch.outputs.size();
    std::vector<float> normed(outputs * dim);
    for (size_t o = 0; o < outputs; ++o) {
        rms_norm(x.data() + static_cast<size_t>(batch.outputs[o]) * dim, output_norm_.data(),
                 normed.data() + o * dim, dim, spec_.rms_epsilon);
    }
    logits.resize(outputs * spec_.vocab_size);
    if (outputs > 0) matmul(output_, normed.data(), logits.data(), outputs, pool, cpu_kernels_);
    if (spec_.final_softcap > 0.0f)
        softcap_in_place(logits.data(), logits.size(), spec_.final_softcap);
}

void Decoder::forward_layers(const TokenBatch& batch, size_t layer_end, KvCache& cache,
                             ThreadPool& pool, std::vector<float>& hidden) const {
    check_batch(batch, cache);
    if (batch.size() > kMaxBatch || layer_end > spec_.layer_count)
        throw Error("forward_layers: batch or layer range out of bounds");
    run_layers(batch, layer_end, cache, pool, hidden);
    cache.record(batch);
}

void Decoder::run_layers(const TokenBatch& batch, size_t layer_end, KvCache& cache,
                         ThreadPool& pool, std::vector<float>& x) const {
    const auto& spec = spec_;
    const size_t n = batch.size();
    const size_t dim = spec.embedding_dim;
    const float epsilon = spec.rms_epsilon;

    x.resize(n * dim);
    std::vector<float> normed(n * dim), queries(n * spec.q_dim()), keys(n * spec.kv_dim()),
        values(n * spec.kv_dim()), attended(n * spec.q_dim()), projected(n * dim),
        gate(n * spec.feed_forward_dim), up(n * spec.feed_forward_dim);
    auto norm_rows = [&](const float* input, const std::vector<float>& weight, float* output) {
        for (size_t t = 0; t < n; ++t)
            rms_norm(input + t * dim, weight.data(), output + t * dim, dim, epsilon);
    };

    for (size_t t = 0; t < n; ++t) {
        dequantize_row(token_embedding_.type,
                       token_embedding_.row(static_cast<size_t>(batch.tokens[t])),
                       x.data() + t * dim, dim);
    }
    if (spec.embedding_scale != 1.0f) scale_in_place(x.data(), x.size(), spec.embedding_scale);

    for (size_t l = 0; l < layer_end; ++l) {
        const auto& layer = layers_[l];
        const auto& features = spec.layers[l];
        norm_rows(x.data(), layer.attention_norm, normed.data());
        matmul(layer.query, normed.data(), queries.data(), n, pool, cpu_kernels_);
        matmul(layer.key, normed.data(), keys.data(), n, pool, cpu_kernels_);
        matmul(layer.value, normed.data(), values.data(), n, pool, cpu_kernels_);
        if (features.qkv_bias) {
            add_bias_in_place(queries.data(), layer.query_bias.data(), n, spec.q_dim());
            add_bias_in_place(keys.data(), layer.key_bias.data(), n, spec.kv_dim());
            add_bias_in_place(values.data(), layer.value_bias.data(), n, spec.kv_dim());
        }
        if (features.qk_norm) {
            rms_norm_each_in_place(queries.data(), layer.query_norm.data(), n * spec.head_count,
                                   spec.head_dim, epsilon);
            rms_norm_each_in_place(keys.data(), layer.key_norm.data(), n * spec.kv_head_count,
                                   spec.head_dim, epsilon);
        }
        for (size_t t = 0; t < n; ++t) {
            const auto position = static_cast<size_t>(batch.positions[t]);
            const auto sequence = static_cast<size_t>(batch.sequences[t]);
            apply_rope(queries.data() + t * spec.q_dim(), spec.head_count, spec.head_dim, position,
                       features.rope);
            apply_rope(keys.data() + t * spec.kv_dim(), spec.kv_head_count, spec.head_dim, position,
                       features.rope);
            cache.store(l, sequence, position, keys.data() + t * spec.kv_dim(),
                        values.data() + t * spec.kv_dim());
        }
        attention(l, batch, queries.data(), cache, attended.data(), pool);
        matmul(layer.attention_output, attended.data(), projected.data(), n, pool, cpu_kernels_);
        if (features.post_attention_norm)
            norm_rows(projected.data(), layer.post_attention_norm, projected.data());
        add_in_place(x.data(), projected.data(), n * dim);

        norm_rows(x.data(), layer.ffn_norm, normed.data());
        feed_forward(layer, n, normed.data(), gate.data(), up.data(), projected.data(), pool);
        if (features.post_ffn_norm)
            norm_rows(projected.data(), layer.post_ffn_norm, projected.data());
        add_in_place(x.data(), projected.data(), n * dim);
    }
}

void Decoder::feed_forward(const LayerWeights& layer, size_t token_count, const float* normed,
                           float* gate, float* up, float* out, ThreadPool& pool) const {
    matmul(layer.ffn_gate, normed, gate, token_count, pool, cpu_kernels_);
    matmul(layer.ffn_up, normed, up, token_count, pool, cpu_kernels_);
    const size_t size = token_count * spec_.feed_forward_dim;
    switch (spec_.activation) {
        case Activation::SwiGLU:
            swiglu_in_place(gate, up, size);
            break;
        case Activation::GeGLU:
            geglu_in_place(gate, up, size);
            break;
    }
    matmul(layer.ffn_down, gate, out, token_count, pool, cpu_kernels_);
}

void Decoder::attention(size_t layer, const TokenBatch& batch, const float* queries, KvCache& cache,
                        float* out, ThreadPool& pool) const {
    const auto& spec = spec_;
    std::vector<KvRows> caches(cache.sequences());
    for (size_t s = 0; s < caches.size(); ++s) caches[s] = cache.rows(layer, s);
    cpu_attention({.head_count = spec.head_count,
                   .kv_head_count = spec.kv_head_count,
                   .head_dim = spec.head_dim,
                   .scale = spec.layers[layer].attention_scale,
                   .window = spec.layers[layer].window,
                   .kernels = cpu_kernels_},
                  caches, batch.sequences, batch.positions, queries, out, pool);
}

}  // namespace llcuda
