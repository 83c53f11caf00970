#include "model/llama_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "core/quant/quant.hpp"

namespace llcuda {

LlamaModel::LlamaModel(std::shared_ptr<const GgufFile> file)
    : file_(std::move(file)), hparams_(read_llama_hparams(*file_)) {
    const auto& hp = hparams_;
    token_embedding_ = matrix("token_embd.weight", hp.embedding_dim, hp.vocab_size);
    layers_.resize(hp.layer_count);
    for (size_t i = 0; i < hp.layer_count; ++i) {
        const std::string prefix = fmt::format("blk.{}.", i);
        auto& layer = layers_[i];
        layer.attention_norm = vector(prefix + "attn_norm.weight", hp.embedding_dim);
        layer.query = matrix(prefix + "attn_q.weight", hp.embedding_dim, hp.q_dim());
        layer.key = matrix(prefix + "attn_k.weight", hp.embedding_dim, hp.kv_dim());
        layer.value = matrix(prefix + "attn_v.weight", hp.embedding_dim, hp.kv_dim());
        layer.attention_output =
            matrix(prefix + "attn_output.weight", hp.q_dim(), hp.embedding_dim);
        layer.ffn_norm = vector(prefix + "ffn_norm.weight", hp.embedding_dim);
        layer.ffn_gate = matrix(prefix + "ffn_gate.weight", hp.embedding_dim, hp.feed_forward_dim);
        layer.ffn_up = matrix(prefix + "ffn_up.weight", hp.embedding_dim, hp.feed_forward_dim);
        layer.ffn_down = matrix(prefix + "ffn_down.weight", hp.feed_forward_dim, hp.embedding_dim);
    }
    output_norm_ = vector("output_norm.weight", hp.embedding_dim);
    output_tied_ = file_->find_tensor("output.weight") == nullptr;
    output_ =
        output_tied_ ? token_embedding_ : matrix("output.weight", hp.embedding_dim, hp.vocab_size);

    rope_.style = hp.rope_style;
    rope_.rotated_dims = hp.rope_dims;
    rope_.freq_base = hp.rope_freq_base;
    rope_.position_scale = hp.rope_position_scale;
    if (file_->find_tensor("rope_freqs.weight")) {
        rope_freq_factors_ = vector("rope_freqs.weight", hp.rope_dims / 2);
        rope_.freq_factors = rope_freq_factors_.data();
    }
}

WeightMatrix LlamaModel::matrix(const std::string& name, size_t expected_columns,
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

std::vector<float> LlamaModel::vector(const std::string& name, size_t expected_size) const {
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

uint64_t LlamaModel::weight_bytes() const {
    uint64_t total = 0;
    for (const auto& tensor : file_->tensors()) total += tensor.byte_count;
    return total;
}

void LlamaModel::check_batch(const TokenBatch& batch, const KvCache& cache) const {
    if (batch.empty()) throw Error("forward() needs at least one token");
    if (batch.positions.size() != batch.size() || batch.sequences.size() != batch.size())
        throw Error("forward(): a batch needs a position and a sequence for every token");
    std::vector<size_t> next(cache.sequences());
    for (size_t s = 0; s < next.size(); ++s) next[s] = cache.used(s);
    for (size_t i = 0; i < batch.size(); ++i) {
        const auto token = batch.tokens[i];
        if (token < 0 || static_cast<size_t>(token) >= hparams_.vocab_size) {
            throw Error(fmt::format("token id {} is outside the vocabulary (0..{})", token,
                                    hparams_.vocab_size - 1));
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

void LlamaModel::forward(std::span<const int32_t> tokens, KvCache& cache, ThreadPool& pool,
                         std::vector<float>& logits) const {
    if (tokens.empty()) throw Error("forward() needs at least one token");
    check_batch(TokenBatch::single(tokens.data(), tokens.size(), 0, cache.used(0)), cache);
    for (size_t begin = 0; begin < tokens.size(); begin += kMaxBatch) {
        const size_t count = std::min(kMaxBatch, tokens.size() - begin);
        forward(TokenBatch::single(tokens.data() + begin, count, 0, cache.used(0)), cache, pool,
                logits);
    }
}

void LlamaModel::forward(const TokenBatch& batch, KvCache& cache, ThreadPool& pool,
                         std::vector<float>& logits) const {
    std::vector<float> x;
    forward_layers(batch, hparams_.layer_count, cache, pool, x);
    const size_t dim = hparams_.embedding_dim;
    const size_t outputs = batch.outputs.size();
    std::vector<float> normed(outputs * dim);
    for (size_t o = 0; o < outputs; ++o) {
        rms_norm(x.data() + static_cast<size_t>(batch.outputs[o]) * dim, output_norm_.data(),
                 normed.data() + o * dim, dim, hparams_.rms_epsilon);
    }
    logits.resize(outputs * hparams_.vocab_size);
    if (outputs > 0) matmul(output_, normed.data(), logits.data(), outputs, pool);
}

void LlamaModel::forward_layers(const TokenBatch& batch, size_t layer_end, KvCache& cache,
                                ThreadPool& pool, std::vector<float>& hidden) const {
    check_batch(batch, cache);
    if (batch.size() > kMaxBatch || layer_end > hparams_.layer_count)
        throw Error("forward_layers: batch or layer range out of bounds");
    run_layers(batch, layer_end, cache, pool, hidden);
    cache.record(batch);
}

void LlamaModel::run_layers(const TokenBatch& batch, size_t layer_end, KvCache& cache,
                            ThreadPool& pool, std::vector<float>& x) const {
    const auto& hp = hparams_;
    const size_t n = batch.size();
    const size_t dim = hp.embedding_dim;

    x.resize(n * dim);
    std::vector<float> normed(n * dim), queries(n * hp.q_dim()), keys(n * hp.kv_dim()),
        values(n * hp.kv_dim()), attended(n * hp.q_dim()), projected(n * dim),
        gate(n * hp.feed_forward_dim), up(n * hp.feed_forward_dim);

    for (size_t t = 0; t < n; ++t) {
        dequantize_row(token_embedding_.type,
                       token_embedding_.row(static_cast<size_t>(batch.tokens[t])),
                       x.data() + t * dim, dim);
    }

    for (size_t l = 0; l < layer_end; ++l) {
        const auto& layer = layers_[l];
        for (size_t t = 0; t < n; ++t) {
            rms_norm(x.data() + t * dim, layer.attention_norm.data(), normed.data() + t * dim, dim,
                     hp.rms_epsilon);
        }
        matmul(layer.query, normed.data(), queries.data(), n, pool);
        matmul(layer.key, normed.data(), keys.data(), n, pool);
        matmul(layer.value, normed.data(), values.data(), n, pool);
        for (size_t t = 0; t < n; ++t) {
            const auto position = static_cast<size_t>(batch.positions[t]);
            const auto sequence = static_cast<size_t>(batch.sequences[t]);
            apply_rope(queries.data() + t * hp.q_dim(), hp.head_count, hp.head_dim, position,
                       rope_);
            apply_rope(keys.data() + t * hp.kv_dim(), hp.kv_head_count, hp.head_dim, position,
                       rope_);
            std::copy_n(keys.data() + t * hp.kv_dim(), hp.kv_dim(),
                        cache.key(l, sequence, position));
            std::copy_n(values.data() + t * hp.kv_dim(), hp.kv_dim(),
                        cache.value(l, sequence, position));
        }
        attention(l, batch, queries.data(), cache, attended.data(), pool);
        matmul(layer.attention_output, attended.data(), projected.data(), n, pool);
        add_in_place(x.data(), projected.data(), n * dim);

        for (size_t t = 0; t < n; ++t) {
            rms_norm(x.data() + t * dim, layer.ffn_norm.data(), normed.data() + t * dim, dim,
                     hp.rms_epsilon);
        }
        matmul(layer.ffn_gate, normed.data(), gate.data(), n, pool);
        matmul(layer.ffn_up, normed.data(), up.data(), n, pool);
        swiglu_in_place(gate.data(), up.data(), n * hp.feed_forward_dim);
        matmul(layer.ffn_down, gate.data(), projected.data(), n, pool);
        add_in_place(x.data(), projected.data(), n * dim);
    }
}

void LlamaModel::attention(size_t layer, const TokenBatch& batch, const float* queries,
                           KvCache& cache, float* out, ThreadPool& pool) const {
    const auto& hp = hparams_;
    const size_t group = hp.head_count / hp.kv_head_count;
    const float sqrt_head_dim = std::sqrt(static_cast<float>(hp.head_dim));
    const size_t longest =
        static_cast<size_t>(*std::max_element(batch.positions.begin(), batch.positions.end())) + 1;
    pool.parallel_for(batch.size() * hp.head_count, [&](size_t begin, size_t end) {
        std::vector<float> scores(longest);
        for (size_t item = begin; item < end; ++item) {
            const size_t t = item / hp.head_count;
            const size_t head = item % hp.head_count;
            const size_t kv_head = head / group;
            const auto sequence = static_cast<size_t>(batch.sequences[t]);
            // causal: this token and everything before it in its own sequence
            const size_t visible = static_cast<size_t>(batch.positions[t]) + 1;
            const float* query = queries + t * hp.q_dim() + head * hp.head_dim;
            for (size_t p = 0; p < visible; ++p) {
                const float* key = cache.key(layer, sequence, p) + kv_head * hp.head_dim;
                float dot = 0.0f;
                for (size_t i = 0; i < hp.head_dim; ++i) dot += query[i] * key[i];
                scores[p] = dot / sqrt_head_dim;
            }
            softmax_in_place(scores.data(), visible);
            float* result = out + t * hp.q_dim() + head * hp.head_dim;
            std::fill_n(result, hp.head_dim, 0.0f);
            for (size_t p = 0; p < visible; ++p) {
                const float* value = cache.value(layer, sequence, p) + kv_head * hp.head_dim;
                for (size_t i = 0; i < hp.head_dim; ++i) result[i] += scores[p] * value[i];
            }
        }
    });
}

}  // namespace llcuda
