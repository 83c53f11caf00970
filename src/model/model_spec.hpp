#pragma once
// What an architecture is: dimensions, and per layer the features the forward pass computes
// (biases, norms, windows, RoPE). Read from GGUF metadata by the architecture's description in
// model/arch/, never decided in model or backend code.
#include <cstddef>
#include <string>
#include <vector>

#include "backend/cpu/cpu_ops.hpp"
#include "core/gguf/gguf_file.hpp"

namespace llcuda {

// The activation of the feed-forward gate: silu(gate) * up or gelu_tanh(gate) * up.
enum class Activation { SwiGLU, GeGLU };

struct LayerSpec {
    bool qkv_bias = false;             // Q, K and V products add a bias (Qwen 2)
    bool qk_norm = false;              // per-head RMSNorm of Q and K before RoPE (Qwen 3, Gemma 3)
    bool post_attention_norm = false;  // RMSNorm of the attention output before the residual add
    bool post_ffn_norm = false;        // RMSNorm of the FFN output before the residual add
    size_t window = 0;                 // sliding window in positions; 0 = global attention
    RopeParams rope;                   // freq_factors is filled in by the model that loads it
    float attention_scale = 1.0f;      // multiplies q.k
};

struct ModelSpec {
    std::string architecture;
    size_t vocab_size = 0;
    size_t embedding_dim = 0;
    size_t layer_count = 0;
    size_t feed_forward_dim = 0;
    size_t head_count = 0;
    size_t kv_head_count = 0;
    size_t head_dim = 0;
    size_t trained_context = 0;
    float rms_epsilon = 1e-5f;
    float embedding_scale = 1.0f;  // the looked-up embedding is multiplied by it (Gemma: sqrt(dim))
    Activation activation = Activation::SwiGLU;
    float final_softcap = 0.0f;  // logits = cap * tanh(logits / cap) when > 0
    // Tensor layout (Phi-3): Q, K and V stacked in one attn_qkv matrix, and the gate above the
    // up projection in one ffn_up matrix of twice the width. Loading splits them into row views,
    // so the forward pass and the backends see the usual separate matrices.
    bool fused_qkv = false;
    bool fused_gate_up = false;
    std::vector<LayerSpec> layers;

    size_t q_dim() const { return head_count * head_dim; }
    size_t kv_dim() const { return kv_head_count * head_dim; }
    // Positions of a sequence a layer's KV cache must keep at a context size, when forward passes
    // take at most `batch_tokens` tokens: all of them for global layers, a ring of the window
    // plus a batch for sliding-window ones (a pass writes its tokens before attending).
    size_t cache_positions(size_t layer, size_t context_size, size_t batch_tokens) const;
    // Whether any layer uses the feature (for backends deciding what they must support).
    bool any_layer(bool LayerSpec::*feature) const;
};

// Reads the spec of the file's `general.architecture` with the architecture's description from
// model/arch/. Throws llcuda::Error naming the key when metadata is missing, unsupported or
// inconsistent, or listing the known architectures when the file's is not one of them.
ModelSpec read_model_spec(const GgufFile& file);
// The same from metadata alone, the vocabulary size given (for files still being written).
ModelSpec describe_model(const GgufFile& metadata_file, size_t vocab_size);

// The context a model is loaded with, for run/serve/bench and inspect's estimate alike:
// `requested` (-c), or for 0 the trained context capped at 4096 (a 128K-context model would
// otherwise reserve its whole KV cache). Throws llcuda::Error above 1048576 positions.
size_t context_size_to_use(size_t requested, size_t trained_context);
// The warning for a context longer than the model was trained on (positions past it give
// garbage), or an empty string.
std::string context_length_warning(size_t context_size, size_t trained_context);

}  // namespace llcuda
