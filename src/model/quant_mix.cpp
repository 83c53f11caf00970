#include "model/quant_mix.hpp"

#include <fmt/format.h>

#include <array>

#include "core/error.hpp"
#include "core/file_type.hpp"

namespace llcuda {
namespace {

struct Mix {
    std::string_view name;
    DType base, more_bits;
    uint32_t file_type;  // llama_ftype
};

constexpr std::array<Mix, 3> kMixes{{
    {"Q3_K_M", DType::Q3_K, DType::Q5_K, 12},
    {"Q4_K_M", DType::Q4_K, DType::Q6_K, 15},
    {"Q5_K_M", DType::Q5_K, DType::Q6_K, 17},
}};

// The first and last eighth of the layers, and every third layer in between.
bool layer_needs_more_bits(size_t layer, size_t layers) {
    return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
}

}  // namespace

QuantTarget QuantTarget::parse(const std::string& name) {
    QuantTarget target;
    target.name_ = name;
    for (const auto& mix : kMixes) {
        if (mix.name == name) {
            target.mix_ = true;
            target.base_ = mix.base;
            target.more_bits_ = mix.more_bits;
            target.file_type_ = mix.file_type;
            return target;
        }
    }
    const auto type = dtype_from_name(name);
    const auto file_type = type ? file_type_written_for(*type) : std::nullopt;
    if (!file_type) {
        throw Error(fmt::format(
            "unknown target type '{}'; use one of F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K "
            "Q3_K Q4_K Q5_K Q6_K, or a mix: Q3_K_M Q4_K_M Q5_K_M",
            name));
    }
    target.base_ = *type;
    target.more_bits_ = *type;
    target.file_type_ = *file_type;
    return target;
}

DType QuantTarget::type_for(std::string_view role, size_t layer, size_t layers) const {
    if (!mix_) return base_;
    if (role == "output") return DType::Q6_K;
    if ((role == "attn_v" || role == "ffn_down") && layer_needs_more_bits(layer, layers))
        return more_bits_;
    // Q3_K_M keeps the attention output and the rest of attn_v / ffn_down at 4 bits.
    if (base_ == DType::Q3_K && (role == "attn_output" || role == "attn_v" || role == "ffn_down"))
        return DType::Q4_K;
    return base_;
}

DType type_fitting_rows(DType type, size_t columns) {
    if (columns % dtype_traits(type).block_elements == 0) return type;
    DType fallback = DType::F16;
    switch (type) {
        case DType::Q2_K:
        case DType::Q3_K:
            fallback = DType::Q4_0;
            break;
        case DType::Q4_K:
            fallback = DType::Q5_0;
            break;
        case DType::Q5_K:
            fallback = DType::Q5_1;
            break;
        case DType::Q6_K:
            fallback = DType::Q8_0;
            break;
        default:
            break;
    }
    return columns % dtype_traits(fallback).block_elements == 0 ? fallback : DType::F16;
}

}  // namespace llcuda
