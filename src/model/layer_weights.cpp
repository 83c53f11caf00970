#include "model/layer_weights.hpp"

#include <fmt/format.h>

namespace llcuda {

void for_each_weight(const ModelSpec& spec, size_t layer,
                     const std::function<void(const WeightDescription&)>& visit) {
    const auto& features = spec.layers.at(layer);
    const size_t dim = spec.embedding_dim;
    const size_t ffn = spec.feed_forward_dim;
    const auto matrix = [&](const char* role, size_t columns, size_t rows,
                            WeightMatrix LayerWeights::*member) {
        visit({.name = fmt::format("blk.{}.{}.weight", layer, role),
               .role = role,
               .columns = columns,
               .rows = rows,
               .matrix = member});
    };
    const auto vector = [&](const char* role, const char* kind, size_t size,
                            std::vector<float> LayerWeights::*member) {
        visit({.name = fmt::format("blk.{}.{}.{}", layer, role, kind),
               .role = role,
               .columns = size,
               .vector = member});
    };
    vector("attn_norm", "weight", dim, &LayerWeights::attention_norm);
    if (spec.fused_qkv) {
        matrix("attn_qkv", dim, spec.q_dim() + 2 * spec.kv_dim(), &LayerWeights::fused_qkv);
    } else {
        matrix("attn_q", dim, spec.q_dim(), &LayerWeights::query);
        matrix("attn_k", dim, spec.kv_dim(), &LayerWeights::key);
        matrix("attn_v", dim, spec.kv_dim(), &LayerWeights::value);
    }
    if (features.qkv_bias) {
        vector("attn_q", "bias", spec.q_dim(), &LayerWeights::query_bias);
        vector("attn_k", "bias", spec.kv_dim(), &LayerWeights::key_bias);
        vector("attn_v", "bias", spec.kv_dim(), &LayerWeights::value_bias);
    }
    if (features.qk_norm) {
        vector("attn_q_norm", "weight", spec.head_dim, &LayerWeights::query_norm);
        vector("attn_k_norm", "weight", spec.head_dim, &LayerWeights::key_norm);
    }
    matrix("attn_output", spec.q_dim(), dim, &LayerWeights::attention_output);
    if (features.post_attention_norm)
        vector("post_attention_norm", "weight", dim, &LayerWeights::post_attention_norm);
    vector("ffn_norm", "weight", dim, &LayerWeights::ffn_norm);
    if (spec.fused_gate_up) {
        matrix("ffn_up", dim, 2 * ffn, &LayerWeights::fused_gate_up);
    } else {
        matrix("ffn_gate", dim, ffn, &LayerWeights::ffn_gate);
        matrix("ffn_up", dim, ffn, &LayerWeights::ffn_up);
    }
    matrix("ffn_down", ffn, dim, &LayerWeights::ffn_down);
    if (features.post_ffn_norm)
        vector("post_ffw_norm", "weight", dim, &LayerWeights::post_ffn_norm);
}

WeightMatrix row_view(const WeightMatrix& matrix, size_t first, size_t count) {
    WeightMatrix view = matrix;
    view.data = matrix.row(first);
    view.rows = count;
    return view;
}

void split_fused_weights(const ModelSpec& spec, LayerWeights& layer) {
    if (spec.fused_qkv) {
        layer.query = row_view(layer.fused_qkv, 0, spec.q_dim());
        layer.key = row_view(layer.fused_qkv, spec.q_dim(), spec.kv_dim());
        layer.value = row_view(layer.fused_qkv, spec.q_dim() + spec.kv_dim(), spec.kv_dim());
    }
    if (spec.fused_gate_up) {
        layer.ffn_gate = row_view(layer.fused_gate_up, 0, spec.feed_forward_dim);
        layer.ffn_up = row_view(layer.fused_gate_up, spec.feed_forward_dim, spec.feed_forward_dim);
    }
}

std::vector<WeightDescription> model_weights(const ModelSpec& spec, bool tied_output) {
    std::vector<WeightDescription> weights{
        {.name = "token_embd.weight",
         .role = "token_embd",
         .columns = spec.embedding_dim,
         .rows = spec.vocab_size},
        {.name = "output_norm.weight", .role = "output_norm", .columns = spec.embedding_dim},
    };
    if (!tied_output) {
        weights.push_back({.name = "output.weight",
                           .role = "output",
                           .columns = spec.embedding_dim,
                           .rows = spec.vocab_size});
    }
    return weights;
}

}  // namespace llcuda
