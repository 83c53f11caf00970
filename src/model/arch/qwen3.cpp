// qwen3 (dense): llama with a per-head RMSNorm of Q and K before NeoX RoPE, no biases, and a
// head dimension of its own (attention.key_length, not embedding_length / head_count).
#include <cmath>

#include "model/arch/architectures.hpp"

namespace llcuda {

void describe_qwen3(const MetadataReader& metadata, ModelSpec& spec) {
    set_every_layer(spec, {.qk_norm = true,
                           .rope = read_rope(metadata, spec, RopeStyle::NeoX),
                           .attention_scale = 1.0f / std::sqrt(static_cast<float>(spec.head_dim))});
}

}  // namespace llcuda
