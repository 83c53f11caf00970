#pragma once
// How a sequence's hidden states become one embedding: the pooling a GGUF names in
// `<arch>.pooling_type` (llama.cpp's numbering), over the final hidden states after the output
// norm, then scaled to unit L2 length.
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "core/gguf/gguf_file.hpp"

namespace llcuda {

enum class Pooling { None, Mean, Cls, Last };

struct PoolingChoice {
    Pooling pooling = Pooling::Mean;
    bool from_file = false;  // the GGUF has the key; otherwise the default for generative models
};

// The file's `<architecture>.pooling_type` (0 none, 1 mean, 2 cls, 3 last). A generative model
// has no such key: it gets mean pooling, which uses every token of the input (last-token
// pooling only means something for models trained for it, and those, like Qwen3-Embedding,
// carry pooling_type 3). Any other value (4, rank: a reranker) throws, naming it.
PoolingChoice read_pooling(const GgufFile& file, const std::string& architecture);
std::string pooling_name(Pooling pooling);

// One embedding from `normed` ([tokens][dim] hidden states after the output norm): their mean,
// the first (CLS) or the last token's, L2-normalised. Pooling::None throws: it is one vector
// per token, not one per input.
std::vector<float> pool_embedding(std::span<const float> normed, size_t dim, Pooling pooling);

// Scales `values` to unit L2 length (a zero vector stays zero).
void l2_normalise(std::vector<float>& values);

}  // namespace llcuda
