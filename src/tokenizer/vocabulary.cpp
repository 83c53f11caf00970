#include "tokenizer/vocabulary.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "tokenizer/pre_tokenizer.hpp"

namespace llcuda {
namespace {

const GgufArray& string_array(const GgufFile& file, const std::string& key) {
    const auto* value = file.find(key);
    if (!value || value->type() != GgufType::Array ||
        value->as_array().element_type != GgufType::String) {
        throw Error(fmt::format("{}: {} must be an array of strings", file.description(), key));
    }
    return value->as_array();
}

// A special token id: absent keys keep `fallback`; ids past the vocabulary are errors (a
// silently wrong BOS or EOS corrupts every prompt or never stops generation).
int32_t read_token_id(const GgufFile& file, const std::string& key, int32_t fallback,
                      size_t vocab_size) {
    const auto value = file.find_uint(key);
    if (!value) return fallback < static_cast<int64_t>(vocab_size) ? fallback : kNoToken;
    // Converters write -1 (0xFFFFFFFF as uint32) for "this model has none".
    if (*value == 0xFFFFFFFFu || *value == ~uint64_t{0}) return kNoToken;
    if (*value >= vocab_size) {
        throw Error(fmt::format("{}: {} = {} is outside the {}-token vocabulary",
                                file.description(), key, *value, vocab_size));
    }
    return static_cast<int32_t>(*value);
}

void read_scores_and_types(const GgufFile& file, Vocabulary& vocabulary) {
    const size_t size = vocabulary.pieces.size();
    vocabulary.scores.assign(size, 0.0f);
    if (const auto* scores = file.find("tokenizer.ggml.scores")) {
        const auto& items = scores->as_array().items;
        if (items.size() != size) {
            throw Error(fmt::format("{}: tokenizer.ggml.scores has {} entries for {} tokens",
                                    file.description(), items.size(), size));
        }
        for (size_t i = 0; i < size; ++i)
            vocabulary.scores[i] = static_cast<float>(items[i].as_double());
    }
    vocabulary.types.assign(size, TokenType::Normal);
    if (const auto* types = file.find("tokenizer.ggml.token_type")) {
        const auto& items = types->as_array().items;
        if (items.size() != size) {
            throw Error(fmt::format("{}: tokenizer.ggml.token_type has {} entries for {} tokens",
                                    file.description(), items.size(), size));
        }
        for (size_t i = 0; i < size; ++i) {
            const auto type = items[i].as_int();
            if (type < 0 || type > 6) {
                throw Error(fmt::format("{}: tokenizer.ggml.token_type[{}] is {}, not 0 to 6",
                                        file.description(), i, type));
            }
            vocabulary.types[i] = static_cast<TokenType>(type);
        }
    }
}

void read_byte_level_parts(const GgufFile& file, Vocabulary& vocabulary) {
    if (!file.find("tokenizer.ggml.merges")) {
        throw Error(file.description() +
                    ": a byte-level BPE vocabulary (tokenizer.ggml.model = gpt2) needs "
                    "tokenizer.ggml.merges, and the file has none");
    }
    const GgufArray* merges = &string_array(file, "tokenizer.ggml.merges");  // see below
    for (const auto& merge : merges->items) vocabulary.merges.push_back(merge.as_string());
    vocabulary.pre = file.find_string("tokenizer.ggml.pre").value_or("default");
    const auto& pre = find_pre_tokenizer(vocabulary.pre);  // an unknown name fails here
    vocabulary.add_bos = pre.add_bos;
    vocabulary.add_space_prefix = false;
}

}  // namespace

Vocabulary read_vocabulary(const GgufFile& file) {
    Vocabulary vocabulary;
    const auto model = file.find_string("tokenizer.ggml.model").value_or("llama");
    if (model == "gpt2") {
        vocabulary.model = TokenizerModel::ByteLevelBpe;
    } else if (model != "llama") {
        throw Error(
            fmt::format("{}: tokenizer.ggml.model '{}' is not supported (known: llama, gpt2)",
                        file.description(), model));
    }
    if (!file.find("tokenizer.ggml.tokens")) {
        throw Error(file.description() +
                    ": the file has no tokenizer.ggml.tokens array (no vocabulary)");
    }
    // Pointers, not references: GCC 13's -Wdangling-reference takes a reference returned by a
    // call with a temporary argument (the key) for one into that temporary.
    const GgufArray* pieces = &string_array(file, "tokenizer.ggml.tokens");
    if (pieces->items.empty()) throw Error(file.description() + ": tokenizer.ggml.tokens is empty");
    for (const auto& piece : pieces->items) vocabulary.pieces.push_back(piece.as_string());
    const size_t size = vocabulary.pieces.size();
    read_scores_and_types(file, vocabulary);

    const bool sentencepiece = vocabulary.model == TokenizerModel::SentencePiece;
    if (!sentencepiece) read_byte_level_parts(file, vocabulary);
    // SentencePiece files traditionally leave out the ids that Llama fixed at 1, 2 and 0.
    vocabulary.bos_id =
        read_token_id(file, "tokenizer.ggml.bos_token_id", sentencepiece ? 1 : kNoToken, size);
    vocabulary.eos_id =
        read_token_id(file, "tokenizer.ggml.eos_token_id", sentencepiece ? 2 : kNoToken, size);
    vocabulary.unknown_id =
        read_token_id(file, "tokenizer.ggml.unknown_token_id", sentencepiece ? 0 : kNoToken, size);
    vocabulary.eot_id = read_token_id(file, "tokenizer.ggml.eot_token_id", kNoToken, size);
    vocabulary.eom_id = read_token_id(file, "tokenizer.ggml.eom_token_id", kNoToken, size);
    vocabulary.pad_id = read_token_id(file, "tokenizer.ggml.padding_token_id", kNoToken, size);
    if (const auto* add_bos = file.find("tokenizer.ggml.add_bos_token"))
        vocabulary.add_bos = add_bos->as_bool();
    if (const auto* add_eos = file.find("tokenizer.ggml.add_eos_token"))
        vocabulary.add_eos = add_eos->as_bool();
    if (const auto* prefix = file.find("tokenizer.ggml.add_space_prefix"))
        vocabulary.add_space_prefix = prefix->as_bool();
    return vocabulary;
}

}  // namespace llcuda
