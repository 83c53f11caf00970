#pragma once
// POST /v1/embeddings in OpenAI's shape: {"input": string | [string] | [token ids] |
// [[token ids]], "model", "encoding_format": "float" | "base64", "dimensions", "user"} ->
// {"object": "list", "data": [{"object": "embedding", "index", "embedding"}], "model",
// "usage": {"prompt_tokens", "total_tokens"}}. Every other field is a 400 naming it.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llcuda/engine.hpp"

namespace llcuda {

struct EmbeddingsRequest {
    // One entry per input, in order: its text, or (when token_ids[i] is not empty) its ids.
    std::vector<std::string> texts;
    std::vector<std::vector<int32_t>> token_ids;
    bool base64 = false;     // encoding_format "base64": little-endian float32s, base64
    int64_t dimensions = 0;  // 0: not given; otherwise it must be the model's own
    std::string model;
};

// The most inputs one request may hold (OpenAI's limit).
constexpr size_t kMaxEmbeddingInputs = 2048;

// Throws ApiError(400) naming the field.
EmbeddingsRequest parse_embeddings_request(const nlohmann::json& body);

// Each input in a sequence of its own, one after another (so an input's embedding is the same
// alone or in a list); text gets a BOS as the vocabulary says, token ids are used as given.
// Throws ApiError(400) naming the input that is empty, too long or outside the vocabulary.
nlohmann::json embeddings_response(Engine& engine, const EmbeddingsRequest& request,
                                   const std::string& model);

// RFC 4648 base64 of `bytes` (with padding).
std::string base64_encode(const std::string& bytes);

}  // namespace llcuda
