// gemma3: sliding-window attention on five layers of every six (the sixth is global, with its
// own RoPE base and scaling), per-head QK-norm, RMSNorm after attention and after the FFN as
// well as before, GeGLU with tanh GELU, embeddings times sqrt(dim), NeoX RoPE, optional final
// logit soft-capping. The converter stores Gemma's norm weights as (w + 1), so they are plain
// RMSNorm weights here.
#include <fmt/format.h>

#include <cmath>

#include "core/error.hpp"
#include "model/arch/architectures.hpp"

namespace llcuda {
namespace {

// Gemma 3's release pattern; llama.cpp assumes it too when the file does not say.
constexpr size_t kDefaultSlidingWindowPattern = 6;
// Local layers' RoPE base when the file has no rope.freq_base_swa (Gemma 3's release value).
constexpr float kDefaultLocalRopeBase = 10000.0f;
// The 27B model scales queries by 1/sqrt(dim / heads) (query_pre_attn_scalar 168), the others
// by 1/sqrt(head_dim); GGUF has no key for it, so the layer count picks, as in llama.cpp.
constexpr size_t kGemma27bLayers = 62;

}  // namespace

void describe_gemma3(const MetadataReader& metadata, ModelSpec& spec) {
    spec.activation = Activation::GeGLU;
    spec.embedding_scale = std::sqrt(static_cast<float>(spec.embedding_dim));
    spec.final_softcap = metadata.positive("final_logit_softcapping", 0.0f);

    const size_t window = metadata.dimension("attention.sliding_window");
    const size_t pattern =
        metadata.dimension("attention.sliding_window_pattern", kDefaultSlidingWindowPattern);
    const float query_scalar = metadata.has("attention.query_pre_attn_scalar")
                                   ? metadata.positive("attention.query_pre_attn_scalar", 1.0f)
                                   : static_cast<float>(spec.layer_count == kGemma27bLayers
                                                            ? spec.embedding_dim / spec.head_count
                                                            : spec.head_dim);

    const RopeParams global_rope = read_rope(metadata, spec, RopeStyle::NeoX);
    RopeParams local_rope = global_rope;
    local_rope.freq_base = metadata.positive("rope.freq_base_swa", kDefaultLocalRopeBase);
    local_rope.position_scale = 1.0f;  // linear scaling applies to the global layers only

    spec.layers.resize(spec.layer_count);
    for (size_t l = 0; l < spec.layer_count; ++l) {
        const bool global = (l + 1) % pattern == 0;
        spec.layers[l] = {.qk_norm = true,
                          .post_attention_norm = true,
                          .post_ffn_norm = true,
                          .window = global ? 0 : window,
                          .rope = global ? global_rope : local_rope,
                          .attention_scale = 1.0f / std::sqrt(query_scalar)};
    }
}

}  // namespace llcuda
