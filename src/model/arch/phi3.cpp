// phi3 (Phi-3 / Phi-3.5 mini and medium): llama's block with Q, K and V in one attn_qkv tensor
// and gate and up in one ffn_up tensor of twice the width, NeoX RoPE, and a sliding window on
// every layer when the file gives one.
#include <fmt/format.h>

#include <cmath>

#include "core/error.hpp"
#include "model/arch/architectures.hpp"

namespace llcuda {

void describe_phi3(const MetadataReader& metadata, ModelSpec& spec) {
    // The 128k-context models scale RoPE per dimension with rope_factors_long/short tensors
    // ("longrope"), chosen by context length; computing them without it would be wrong.
    if (metadata.file().find_tensor("rope_factors_long.weight") != nullptr) {
        throw Error(fmt::format(
            "{}: Phi-3 long-context RoPE (rope_factors_long.weight) is not supported yet; use a "
            "4k-context Phi-3 model",
            metadata.file().description()));
    }
    spec.fused_qkv = true;
    spec.fused_gate_up = true;
    set_every_layer(spec, {.window = metadata.dimension("attention.sliding_window", 0),
                           .rope = read_rope(metadata, spec, RopeStyle::NeoX),
                           .attention_scale = 1.0f / std::sqrt(static_cast<float>(spec.head_dim))});
}

}  // namespace llcuda
