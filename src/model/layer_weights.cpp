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
    matrix("attn_q", dim, spec.q_dim(), &LayerWeights::query);
    matrix("attn_k", dim, spec.kv_dim(), &LayerWeights::key);
    matrix("attn_v", dim, spec.kv_dim(), &LayerWeights::value);
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
    matrix("ffn_gate", dim, ffn, &LayerWeights::ffn_gate);
    matrix("ffn_up", dim, ffn, &LayerWeights::ffn_up);
    matrix("ffn_down", ffn, dim, &LayerWeights::ffn_down);
    if (features.post_ffn_norm)
        vector("post_ffw_norm", "weight", dim, &LayerWeights::post_ffn_norm);
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
