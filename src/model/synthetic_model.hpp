#pragma once
// Benchmark models: a GGUF with random weights in the shape of a known model (llama3-8b, ...)
// and any supported quantization, including the Q4_K_M mix, with the tokenizer of another GGUF
// (padded with unused tokens to the shape's vocabulary). Speed depends on shapes and types,
// not on trained values, so these stand in for models that cannot be downloaded here.
#include <cstdint>
#include <string>
#include <vector>

#include "core/gguf/gguf_file.hpp"
#include "core/gguf/gguf_writer.hpp"

namespace llcuda {

struct ModelShape {
    std::string name;
    std::string architecture;  // general.architecture: llama, qwen2, qwen3, gemma3
    size_t embedding_dim, layers, heads, kv_heads, feed_forward_dim, vocab_size;
    float rope_freq_base;
    size_t context_length;
    bool tied_output;
    size_t head_dim = 0;        // 0: embedding_dim / heads
    size_t sliding_window = 0;  // gemma3
    float rope_scaling = 0.0f;  // linear RoPE scaling factor when > 0

    size_t head_size() const { return head_dim > 0 ? head_dim : embedding_dim / heads; }
    size_t kv_dim() const { return kv_heads * head_size(); }
};

const std::vector<ModelShape>& known_model_shapes();
const ModelShape& find_model_shape(const std::string& name);  // throws, listing the names

struct SyntheticModelOptions {
    std::string shape;
    std::string type = "Q4_K_M";  // a type name (F16, Q8_0, Q4_K, ...) or Q4_K_M
    uint64_t seed = 1;
    size_t threads = 0;
};

// Fills `writer` with the model; `tokenizer_source` provides the tokenizer.* metadata.
void build_synthetic_model(const SyntheticModelOptions& options, const GgufFile& tokenizer_source,
                           GgufWriter& writer);

}  // namespace llcuda
