#include "model/arch/architectures.hpp"

#include <fmt/format.h>

#include <array>
#include <cmath>

#include "core/error.hpp"

namespace llcuda {

std::span<const Architecture> known_architectures() {
    static constexpr std::array<Architecture, 6> kArchitectures{{
        {"llama", describe_llama},
        {"mistral", describe_llama},
        {"qwen2", describe_qwen2},
        {"qwen3", describe_qwen3},
        {"gemma3", describe_gemma3},
        {"phi3", describe_phi3},
    }};
    return kArchitectures;
}

RopeParams read_rope(const MetadataReader& metadata, const ModelSpec& spec, RopeStyle style) {
    RopeParams rope;
    rope.style = style;
    rope.rotated_dims = metadata.dimension("rope.dimension_count", spec.head_dim);
    rope.freq_base = metadata.positive("rope.freq_base", 10000.0f);
    if (rope.rotated_dims > spec.head_dim || rope.rotated_dims % 2 != 0) {
        throw Error(fmt::format("{}: '{}' = {} does not fit head dimension {}",
                                metadata.file().description(), metadata.key("rope.dimension_count"),
                                rope.rotated_dims, spec.head_dim));
    }
    const auto scaling = metadata.text("rope.scaling.type", "none");
    if (scaling == "linear") {
        rope.position_scale = 1.0f / metadata.positive("rope.scaling.factor", 1.0f);
    } else if (scaling != "none" && scaling != "llama3") {
        // Llama 3 scaling arrives as the rope_freqs.weight tensor, read by the model.
        throw Error(fmt::format("{}: '{}' = '{}' is not supported yet (none, linear, llama3)",
                                metadata.file().description(), metadata.key("rope.scaling.type"),
                                scaling));
    }
    return rope;
}

void set_every_layer(ModelSpec& spec, const LayerSpec& layer) {
    spec.layers.assign(spec.layer_count, layer);
}

}  // namespace llcuda
