// llama and mistral: pre-norm blocks, GQA, RoPE on adjacent pairs (the converter permutes Q and
// K rows for it), SwiGLU, Llama 3 frequency factors as a tensor, tied or separate output.
#include <cmath>

#include "model/arch/architectures.hpp"

namespace llcuda {

void describe_llama(const MetadataReader& metadata, ModelSpec& spec) {
    set_every_layer(spec, {.rope = read_rope(metadata, spec, RopeStyle::Normal),
                           .attention_scale = 1.0f / std::sqrt(static_cast<float>(spec.head_dim))});
}

}  // namespace llcuda
