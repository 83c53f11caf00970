#pragma once
// Hyperparameters of a Llama-family model, read from GGUF metadata under the architecture's
// prefix ("llama.embedding_length", ...), with the defaults llama-style converters assume.
#include <cstddef>
#include <string>

#include "backend/cpu/cpu_ops.hpp"
#include "core/gguf/gguf_file.hpp"

namespace llcuda {

struct LlamaHparams {
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
    RopeStyle rope_style = RopeStyle::Normal;
    size_t rope_dims = 0;
    float rope_freq_base = 10000.0f;
    float rope_position_scale = 1.0f;

    size_t q_dim() const { return head_count * head_dim; }
    size_t kv_dim() const { return kv_head_count * head_dim; }
};

// Throws llcuda::Error naming the key when metadata is missing, unsupported or inconsistent.
LlamaHparams read_llama_hparams(const GgufFile& file);

}  // namespace llcuda
