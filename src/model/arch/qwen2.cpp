// qwen2 (Qwen 2 and 2.5): llama with biases on the Q, K and V products and NeoX RoPE.
#include <cmath>

#include "model/arch/architectures.hpp"

namespace llcuda {

void describe_qwen2(const MetadataReader& metadata, ModelSpec& spec) {
    set_every_layer(spec, {.qkv_bias = true,
                           .rope = read_rope(metadata, spec, RopeStyle::NeoX),
                           .attention_scale = 1.0f / std::sqrt(static_cast<float>(spec.head_dim))});
}

}  // namespace llcuda
