#include "server/embeddings_endpoint.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "server/api_error.hpp"
#include "server/openai_protocol.hpp"

namespace llcuda {
namespace {

using json = nlohmann::json;

struct EmbeddingField {
    const char* name;
    const char* what;
};

// The fields /v1/embeddings takes (any other is a 400 naming it), each with what it does.
constexpr EmbeddingField kEmbeddingFields[] = {
    {"input", "a string, [string], [token ids] or [[token ids]]"},
    {"model", "echoed back; the server serves one model"},
    {"encoding_format", "float (default) or base64 (little-endian float32s)"},
    {"dimensions", "only the model's own size: llcuda does not shorten embeddings"},
    {"user", "ignored: an end-user id for OpenAI's abuse monitoring"},
};

[[noreturn]] void invalid(const std::string& param, const std::string& message) {
    throw ApiError(400, message, param);
}

void add_text(EmbeddingsRequest& request, const json& text, const std::string& param) {
    if (text.get<std::string>().empty())
        invalid(param, fmt::format("{} is an empty string; an embedding needs some text", param));
    request.texts.push_back(text.get<std::string>());
    request.token_ids.emplace_back();
}

void parse_input(const json& input, EmbeddingsRequest& request) {
    if (input.is_string()) return add_text(request, input, "input");
    if (!input.is_array() || input.empty())
        invalid("input",
                "'input' must be a string, a list of strings, a list of token ids or a list of "
                "lists of token ids");
    if (input.size() > kMaxEmbeddingInputs)
        invalid("input", fmt::format("'input' has {} entries; at most {} per request", input.size(),
                                     kMaxEmbeddingInputs));
    if (input[0].is_number()) {
        request.texts.emplace_back();
        request.token_ids.push_back(parse_token_ids(input, "input"));
        return;
    }
    for (size_t i = 0; i < input.size(); ++i) {
        const auto param = fmt::format("input[{}]", i);
        if (input[0].is_string() && input[i].is_string()) {
            add_text(request, input[i], param);
        } else if (input[0].is_array() && input[i].is_array()) {
            request.texts.emplace_back();
            request.token_ids.push_back(parse_token_ids(input[i], param));
        } else {
            invalid(param, "a list of inputs must be all strings or all lists of token ids");
        }
    }
}

std::string float_bytes(const std::vector<float>& values) {
    static_assert(std::endian::native == std::endian::little,
                  "base64 embeddings are little-endian");
    std::string bytes(values.size() * sizeof(float), '\0');
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return bytes;
}

}  // namespace

EmbeddingsRequest parse_embeddings_request(const json& body) {
    if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object");
    for (const auto& item : body.items()) {
        const auto& key = item.key();
        const bool known =
            std::any_of(std::begin(kEmbeddingFields), std::end(kEmbeddingFields),
                        [&](const EmbeddingField& field) { return key == field.name; });
        if (!known)
            invalid(key, fmt::format("the field '{}' is unknown or not supported by "
                                     "/v1/embeddings",
                                     key));
    }
    EmbeddingsRequest request;
    if (!body.contains("input")) invalid("input", "'input' is required");
    parse_input(body["input"], request);
    if (body.contains("model") && !body["model"].is_null()) {
        if (!body["model"].is_string()) invalid("model", "'model' must be a string");
        request.model = body["model"].get<std::string>();
    }
    if (body.contains("encoding_format") && !body["encoding_format"].is_null()) {
        const auto& format = body["encoding_format"];
        if (!format.is_string() || (format != "float" && format != "base64"))
            invalid("encoding_format", "'encoding_format' must be \"float\" or \"base64\"");
        request.base64 = format == "base64";
    }
    if (body.contains("dimensions") && !body["dimensions"].is_null()) {
        const auto& dimensions = body["dimensions"];
        if (!dimensions.is_number_integer() || dimensions.get<int64_t>() < 1)
            invalid("dimensions", "'dimensions' must be a positive integer");
        request.dimensions = dimensions.get<int64_t>();
    }
    if (body.contains("user") && !body["user"].is_string() && !body["user"].is_null())
        invalid("user", "'user' must be a string");
    return request;
}

json embeddings_response(Engine& engine, const EmbeddingsRequest& request,
                         const std::string& model) {
    const auto& summary = engine.summary();
    if (request.dimensions != 0 && static_cast<size_t>(request.dimensions) != summary.embedding_dim)
        invalid("dimensions",
                fmt::format("'dimensions' {} is not supported: this model's embeddings have {} "
                            "values and llcuda does not shorten them (send no 'dimensions')",
                            request.dimensions, summary.embedding_dim));
    const bool several = request.texts.size() > 1;
    std::vector<std::vector<int32_t>> inputs;
    for (size_t i = 0; i < request.texts.size(); ++i) {
        const auto param = several ? fmt::format("input[{}]", i) : std::string("input");
        auto tokens = request.token_ids[i].empty()
                          ? engine.prompt_tokens(request.texts[i], GenerationOptions{})
                          : request.token_ids[i];
        for (const auto id : tokens)
            if (static_cast<size_t>(id) >= summary.vocab_size)
                invalid(param, fmt::format("token id {} is not in the vocabulary (0..{})", id,
                                           summary.vocab_size - 1));
        if (tokens.size() > summary.context_size)
            invalid(param, fmt::format("{} is {} tokens, more than the {}-token context; use a "
                                       "larger --ctx-size or a shorter input",
                                       param, tokens.size(), summary.context_size));
        inputs.push_back(std::move(tokens));
    }
    json data = json::array();
    size_t prompt_tokens = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
        std::vector<float> embedding;
        try {
            embedding = engine.embed(inputs[i]);
        } catch (const ApiError&) {
            throw;
        } catch (const Error& error) {
            invalid(several ? fmt::format("input[{}]", i) : "input", error.what());
        }
        prompt_tokens += inputs[i].size();
        json item = {{"object", "embedding"}, {"index", i}};
        if (request.base64)
            item["embedding"] = base64_encode(float_bytes(embedding));
        else
            item["embedding"] = embedding;
        data.push_back(std::move(item));
    }
    return {{"object", "list"},
            {"data", std::move(data)},
            {"model", model},
            {"usage", {{"prompt_tokens", prompt_tokens}, {"total_tokens", prompt_tokens}}}};
}

std::string base64_encode(const std::string& bytes) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (size_t i = 0; i < bytes.size(); i += 3) {
        const size_t left = std::min<size_t>(3, bytes.size() - i);
        uint32_t group = 0;
        for (size_t j = 0; j < 3; ++j)
            group = (group << 8) | (j < left ? static_cast<unsigned char>(bytes[i + j]) : 0u);
        for (size_t j = 0; j < 4; ++j)
            out += j <= left ? kAlphabet[(group >> (18 - 6 * j)) & 63] : '=';
    }
    return out;
}

}  // namespace llcuda
