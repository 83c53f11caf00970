#include "model/spec_summary.hpp"

#include <fmt/format.h>

#include <map>

#include "model/token_batch.hpp"

namespace llcuda {
namespace {

const char* activation_name(Activation activation) {
    return activation == Activation::GeGLU ? "GeGLU (tanh GELU)" : "SwiGLU";
}

const char* rope_style_name(RopeStyle style) {
    return style == RopeStyle::NeoX ? "NeoX" : "normal";
}

size_t layers_with(const ModelSpec& spec, bool LayerSpec::*feature) {
    size_t count = 0;
    for (const auto& layer : spec.layers) count += layer.*feature ? 1 : 0;
    return count;
}

// Layers by RoPE base and position scale, e.g. {10000: 5 layers, 1e6 x 1/8: 1 layer}.
std::map<std::pair<float, float>, size_t> rope_groups(const ModelSpec& spec) {
    std::map<std::pair<float, float>, size_t> groups;
    for (const auto& layer : spec.layers)
        ++groups[{layer.rope.freq_base, layer.rope.position_scale}];
    return groups;
}

size_t window_layers(const ModelSpec& spec) {
    size_t count = 0;
    for (const auto& layer : spec.layers) count += layer.window > 0 ? 1 : 0;
    return count;
}

}  // namespace

std::vector<std::string> spec_summary_lines(const ModelSpec& spec, size_t context_size) {
    std::vector<std::string> lines;
    lines.push_back(fmt::format(
        "{}: {} layers, dim {}, {} heads / {} KV heads of {}, FFN {} ({}), vocabulary {}",
        spec.architecture, spec.layer_count, spec.embedding_dim, spec.head_count,
        spec.kv_head_count, spec.head_dim, spec.feed_forward_dim, activation_name(spec.activation),
        spec.vocab_size));
    std::string features;
    auto add = [&](size_t count, const char* name) {
        if (count == 0) return;
        features += (features.empty() ? "" : ", ") + std::string(name);
        if (count != spec.layer_count)
            features += fmt::format(" ({} of {} layers)", count, spec.layer_count);
    };
    add(layers_with(spec, &LayerSpec::qkv_bias), "QKV bias");
    add(layers_with(spec, &LayerSpec::qk_norm), "QK-norm");
    add(layers_with(spec, &LayerSpec::post_attention_norm), "post-attention norm");
    add(layers_with(spec, &LayerSpec::post_ffn_norm), "post-FFN norm");
    if (spec.embedding_scale != 1.0f)
        features += fmt::format("{}embeddings x {:.4g}", features.empty() ? "" : ", ",
                                spec.embedding_scale);
    if (spec.final_softcap > 0.0f)
        features += fmt::format("{}logit soft-cap {:.4g}", features.empty() ? "" : ", ",
                                spec.final_softcap);
    if (!features.empty()) lines.push_back("features: " + features);
    std::string rope;
    for (const auto& [key, count] : rope_groups(spec)) {
        rope += fmt::format(
            "{}base {:.6g}{} on {} layers", rope.empty() ? "" : "; ", key.first,
            key.second != 1.0f ? fmt::format(" (positions x {:.4g})", key.second) : "", count);
    }
    lines.push_back(fmt::format(
        "RoPE {} over {} dims{}: {}", rope_style_name(spec.layers[0].rope.style),
        spec.layers[0].rope.rotated_dims,
        spec.layers[0].rope.freq_factors != nullptr ? " with frequency factors" : "", rope));
    if (const size_t windowed = window_layers(spec); windowed > 0) {
        size_t window = 0;
        for (const auto& layer : spec.layers) window = std::max(window, layer.window);
        size_t first_windowed = 0;
        while (spec.layers[first_windowed].window == 0) ++first_windowed;
        lines.push_back(fmt::format(
            "sliding window {} on {} of {} layers: at context {} their KV cache keeps a ring of {} "
            "positions on the CPU",
            window, windowed, spec.layer_count, context_size,
            spec.cache_positions(first_windowed, context_size, kMaxCpuBatch)));
    }
    return lines;
}

nlohmann::json spec_summary_json(const ModelSpec& spec, size_t context_size) {
    nlohmann::json layers = nlohmann::json::array();
    for (size_t l = 0; l < spec.layer_count; ++l) {
        const auto& layer = spec.layers[l];
        layers.push_back({{"qkv_bias", layer.qkv_bias},
                          {"qk_norm", layer.qk_norm},
                          {"post_attention_norm", layer.post_attention_norm},
                          {"post_ffn_norm", layer.post_ffn_norm},
                          {"window", layer.window},
                          {"cache_positions", spec.cache_positions(l, context_size, kMaxCpuBatch)},
                          {"rope_style", rope_style_name(layer.rope.style)},
                          {"rope_freq_base", layer.rope.freq_base},
                          {"rope_position_scale", layer.rope.position_scale},
                          {"attention_scale", layer.attention_scale}});
    }
    return {{"architecture", spec.architecture},
            {"layers", spec.layer_count},
            {"embedding_dim", spec.embedding_dim},
            {"head_count", spec.head_count},
            {"kv_head_count", spec.kv_head_count},
            {"head_dim", spec.head_dim},
            {"feed_forward_dim", spec.feed_forward_dim},
            {"vocab_size", spec.vocab_size},
            {"activation", activation_name(spec.activation)},
            {"embedding_scale", spec.embedding_scale},
            {"final_softcap", spec.final_softcap},
            {"rms_epsilon", spec.rms_epsilon},
            {"layer_specs", layers}};
}

}  // namespace llcuda
