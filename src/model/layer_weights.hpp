#pragma once
// The one list of a model's tensors: what each layer holds under the spec, with its GGUF name,
// shape and the member it loads into. Loading, upload to a GPU, memory estimates, `inspect` and
// `synth` derive from it.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "backend/cpu/cpu_ops.hpp"
#include "model/model_spec.hpp"

namespace llcuda {

struct LayerWeights {
    std::vector<float> attention_norm;
    WeightMatrix query, key, value;
    std::vector<float> query_bias, key_bias, value_bias;  // LayerSpec::qkv_bias
    std::vector<float> query_norm, key_norm;              // LayerSpec::qk_norm, [head_dim]
    WeightMatrix attention_output;
    std::vector<float> post_attention_norm;  // LayerSpec::post_attention_norm
    std::vector<float> ffn_norm;
    WeightMatrix ffn_gate, ffn_up, ffn_down;
    std::vector<float> post_ffn_norm;  // LayerSpec::post_ffn_norm
    // The stored matrices of fused layouts (ModelSpec::fused_qkv, fused_gate_up), of which the
    // matrices above are row views.
    WeightMatrix fused_qkv, fused_gate_up;
};

// Rows [first, first + count) of a matrix, as a matrix of its own (no copy).
WeightMatrix row_view(const WeightMatrix& matrix, size_t first, size_t count);
// Points query/key/value and ffn_gate/ffn_up at the rows of the fused matrices they come from.
void split_fused_weights(const ModelSpec& spec, LayerWeights& layer);

struct WeightDescription {
    std::string name;                              // "blk.3.attn_q.weight"
    std::string role;                              // "attn_q": what quantization mixes key on
    size_t columns = 0;                            // GGUF's first dimension: the length of a row
    size_t rows = 1;                               // 1 for vectors
    WeightMatrix LayerWeights::*matrix = nullptr;  // set for matrices,
    std::vector<float> LayerWeights::*vector = nullptr;  // or for vectors (kept in float)
    bool is_norm() const { return vector != nullptr && role.find("norm") != std::string::npos; }
};

// Every tensor of layer `layer`, in the order the forward pass uses them.
void for_each_weight(const ModelSpec& spec, size_t layer,
                     const std::function<void(const WeightDescription&)>& visit);

// The tensors outside the layers, given whether the output head is tied to the embedding:
// token_embd.weight, output_norm.weight and (untied) output.weight. Their `matrix`/`vector`
// members are null; Decoder loads them itself.
std::vector<WeightDescription> model_weights(const ModelSpec& spec, bool tied_output);

}  // namespace llcuda
