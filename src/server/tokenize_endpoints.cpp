#include "server/tokenize_endpoints.hpp"

#include <fmt/format.h>

#include "server/api_error.hpp"
#include "tokenizer/utf8_stream.hpp"

namespace llcuda {
namespace {

using json = nlohmann::json;

bool flag(const json& body, const char* field, bool fallback) {
    if (!body.contains(field)) return fallback;
    if (!body[field].is_boolean())
        throw ApiError(400, fmt::format("{} must be a boolean", field), field);
    return body[field].get<bool>();
}

// Invalid UTF-8 made displayable (U+FFFD for what cannot be a character): JSON needs it.
std::string displayable(const std::string& bytes) {
    Utf8Stream stream;
    return stream.push(bytes) + stream.finish();
}

// A byte-level piece may be part of a UTF-8 character: then, as llama-server does, its bytes.
json piece_json(const std::string& piece) {
    if (displayable(piece) == piece) return piece;
    json bytes = json::array();
    for (const char byte : piece) bytes.push_back(static_cast<unsigned char>(byte));
    return bytes;
}

}  // namespace

json tokenize_response(const Engine& engine, const json& body) {
    if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object");
    if (!body.contains("content") || !body["content"].is_string())
        throw ApiError(400, "content must be a string", "content");
    const auto tokens =
        engine.tokenize(body["content"].get<std::string>(), flag(body, "add_special", false),
                        flag(body, "parse_special", true));
    if (!flag(body, "with_pieces", false)) return {{"tokens", tokens}};
    json entries = json::array();
    for (const auto token : tokens)
        entries.push_back({{"id", token}, {"piece", piece_json(engine.token_text(token))}});
    return {{"tokens", entries}};
}

json detokenize_response(const Engine& engine, const json& body) {
    if (!body.is_object() || !body.contains("tokens") || !body["tokens"].is_array())
        throw ApiError(400, "tokens must be an array of token ids", "tokens");
    const size_t vocabulary = engine.summary().vocab_size;
    std::vector<int32_t> tokens;
    for (const auto& token : body["tokens"]) {
        if (!token.is_number_integer() || token.get<int64_t>() < 0 ||
            token.get<int64_t>() >= static_cast<int64_t>(vocabulary)) {
            throw ApiError(400,
                           fmt::format("tokens: {} is not a token id of the {}-token vocabulary",
                                       token.dump(), vocabulary),
                           "tokens");
        }
        tokens.push_back(token.get<int32_t>());
    }
    return {{"content", displayable(engine.detokenize(tokens))}};
}

}  // namespace llcuda
