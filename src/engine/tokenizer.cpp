#include "engine/tokenizer.hpp"

#include <fmt/format.h>

#include <queue>

#include "core/error.hpp"

namespace llcuda {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's space

size_t utf8_length(unsigned char lead) {
    if (lead < 0x80) return 1;
    if ((lead & 0xE0) == 0xC0) return 2;
    if ((lead & 0xF0) == 0xE0) return 3;
    if ((lead & 0xF8) == 0xF0) return 4;
    return 1;  // stray continuation or invalid byte: a symbol of its own, byte fallback handles it
}

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
    std::string result;
    size_t position = 0;
    while (true) {
        const size_t found = text.find(from, position);
        result.append(text.substr(position, found - position));
        if (found == std::string_view::npos) break;
        result.append(to);
        position = found + from.size();
    }
    return result;
}

int32_t read_token_id(const GgufFile& file, const std::string& key, int32_t fallback,
                      size_t vocab_size) {
    const auto value = file.find_uint(key);
    if (!value) return fallback;
    if (*value >= vocab_size) {
        throw Error(fmt::format("{}: {} = {} is outside the {}-token vocabulary",
                                file.description(), key, *value, vocab_size));
    }
    return static_cast<int32_t>(*value);
}

}  // namespace

Vocabulary read_vocabulary(const GgufFile& file) {
    const auto model = file.find_string("tokenizer.ggml.model").value_or("llama");
    if (model != "llama") {
        throw Error(
            fmt::format("{}: tokenizer '{}' is not supported yet (only SentencePiece 'llama')",
                        file.description(), model));
    }
    const auto* tokens = file.find("tokenizer.ggml.tokens");
    if (!tokens || tokens->type() != GgufType::Array) {
        throw Error(file.description() +
                    ": the file has no tokenizer.ggml.tokens array (no vocabulary)");
    }
    Vocabulary vocabulary;
    const auto& pieces = tokens->as_array();
    if (pieces.element_type != GgufType::String || pieces.items.empty()) {
        throw Error(file.description() +
                    ": tokenizer.ggml.tokens must be a non-empty array of strings");
    }
    const size_t size = pieces.items.size();
    for (const auto& piece : pieces.items) vocabulary.pieces.push_back(piece.as_string());

    vocabulary.scores.assign(size, 0.0f);
    if (const auto* scores = file.find("tokenizer.ggml.scores")) {
        const auto& items = scores->as_array().items;
        if (items.size() != size)
            throw Error(file.description() + ": tokenizer scores and tokens differ in length");
        for (size_t i = 0; i < size; ++i)
            vocabulary.scores[i] = static_cast<float>(items[i].as_double());
    }
    vocabulary.types.assign(size, TokenType::Normal);
    if (const auto* types = file.find("tokenizer.ggml.token_type")) {
        const auto& items = types->as_array().items;
        if (items.size() != size)
            throw Error(file.description() + ": tokenizer types and tokens differ in length");
        for (size_t i = 0; i < size; ++i) {
            const auto type = items[i].as_int();
            if (type < 0 || type > 6) {
                throw Error(
                    fmt::format("{}: token {} has unknown type {}", file.description(), i, type));
            }
            vocabulary.types[i] = static_cast<TokenType>(type);
        }
    }
    vocabulary.bos_id = read_token_id(file, "tokenizer.ggml.bos_token_id", 1, size);
    vocabulary.eos_id = read_token_id(file, "tokenizer.ggml.eos_token_id", 2, size);
    vocabulary.unknown_id = read_token_id(file, "tokenizer.ggml.unknown_token_id", 0, size);
    if (const auto* add_bos = file.find("tokenizer.ggml.add_bos_token"))
        vocabulary.add_bos = add_bos->as_bool();
    if (const auto* prefix = file.find("tokenizer.ggml.add_space_prefix")) {
        vocabulary.add_space_prefix = prefix->as_bool();
    }
    return vocabulary;
}

Tokenizer::Tokenizer(Vocabulary vocabulary) : vocabulary_(std::move(vocabulary)) {
    const auto& v = vocabulary_;
    if (v.pieces.size() != v.scores.size() || v.pieces.size() != v.types.size()) {
        throw Error("vocabulary pieces, scores and types differ in length");
    }
    byte_tokens_.fill(-1);
    for (size_t id = 0; id < v.pieces.size(); ++id) {
        const auto& piece = v.pieces[id];
        const auto token = static_cast<int32_t>(id);
        switch (v.types[id]) {
            case TokenType::Normal:
            case TokenType::UserDefined:
            case TokenType::Undefined:
                mergeable_.emplace(piece, token);
                break;
            case TokenType::Control:
                if (!piece.empty()) control_pieces_.emplace_back(piece, token);
                break;
            case TokenType::Byte: {
                unsigned value = 0;
                if (piece.size() == 6 && std::sscanf(piece.c_str(), "<0x%2X>", &value) == 1 &&
                    value < 256) {
                    byte_tokens_[value] = token;
                    has_byte_tokens_ = true;
                }
                break;
            }
            default:
                break;
        }
    }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos,
                                       bool parse_special) const {
    std::vector<int32_t> output;
    if (add_bos) output.push_back(vocabulary_.bos_id);
    bool first_segment = true;
    auto encode_segment = [&](std::string_view segment) {
        if (segment.empty()) return;
        std::string prepared;
        if (first_segment && vocabulary_.add_space_prefix) prepared = " ";
        prepared += segment;
        encode_text(replace_all(prepared, " ", kSpaceMarker), output);
        first_segment = false;
    };
    if (!parse_special) {
        encode_segment(text);
        return output;
    }
    size_t position = 0;
    while (position < text.size()) {
        size_t best_position = std::string_view::npos;
        const std::pair<std::string, int32_t>* best = nullptr;
        for (const auto& control : control_pieces_) {
            const size_t found = text.find(control.first, position);
            if (found < best_position ||
                (found == best_position && best && control.first.size() > best->first.size())) {
                best_position = found;
                best = &control;
            }
        }
        encode_segment(text.substr(position, best_position - position));
        if (!best) break;
        output.push_back(best->second);
        first_segment = false;
        position = best_position + best->first.size();
    }
    return output;
}

// BPE as SentencePiece does it: start from single characters, repeatedly merge the adjacent
// pair whose concatenation is the highest-scoring piece (leftmost on ties), until no pair
// forms a piece.
void Tokenizer::encode_text(std::string_view text, std::vector<int32_t>& output) const {
    struct Symbol {
        size_t begin;
        size_t length;
        int previous;
        int next;
    };
    std::vector<Symbol> symbols;
    for (size_t position = 0; position < text.size();) {
        const size_t length = std::min(utf8_length(static_cast<unsigned char>(text[position])),
                                       text.size() - position);
        const int index = static_cast<int>(symbols.size());
        symbols.push_back({position, length, index - 1, index + 1});
        position += length;
    }
    if (symbols.empty()) return;
    symbols.back().next = -1;

    struct Candidate {
        float score;
        int left;
        int right;
        size_t length;  // combined length when queued; a mismatch later means it is stale
        bool operator<(const Candidate& other) const {
            if (score != other.score) return score < other.score;
            return left > other.left;
        }
    };
    std::priority_queue<Candidate> queue;
    auto try_pair = [&](int left, int right) {
        if (left < 0 || right < 0) return;
        const size_t length = symbols[left].length + symbols[right].length;
        const auto found = mergeable_.find(std::string(text.substr(symbols[left].begin, length)));
        if (found == mergeable_.end()) return;
        queue.push({vocabulary_.scores[found->second], left, right, length});
    };
    for (int i = 0; i + 1 < static_cast<int>(symbols.size()); ++i) try_pair(i, i + 1);

    while (!queue.empty()) {
        const auto candidate = queue.top();
        queue.pop();
        auto& left = symbols[candidate.left];
        auto& right = symbols[candidate.right];
        if (left.length == 0 || right.length == 0 || left.next != candidate.right ||
            left.length + right.length != candidate.length) {
            continue;  // one side was merged into something else since this was queued
        }
        left.length += right.length;
        right.length = 0;
        left.next = right.next;
        if (right.next >= 0) symbols[right.next].previous = candidate.left;
        try_pair(left.previous, candidate.left);
        try_pair(candidate.left, left.next);
    }

    for (int i = 0; i >= 0; i = symbols[i].next) {
        append_symbol(text.substr(symbols[i].begin, symbols[i].length), output);
    }
}

void Tokenizer::append_symbol(std::string_view symbol, std::vector<int32_t>& output) const {
    const auto found = mergeable_.find(std::string(symbol));
    if (found != mergeable_.end()) {
        output.push_back(found->second);
        return;
    }
    if (!has_byte_tokens_) {
        output.push_back(vocabulary_.unknown_id);
        return;
    }
    for (const char byte : symbol) {
        const int32_t token = byte_tokens_[static_cast<unsigned char>(byte)];
        output.push_back(token >= 0 ? token : vocabulary_.unknown_id);
    }
}

std::string Tokenizer::token_bytes(int32_t token, int32_t previous_token) const {
    if (token < 0 || static_cast<size_t>(token) >= size()) {
        throw Error(fmt::format("token id {} is outside the {}-token vocabulary", token, size()));
    }
    const auto& piece = vocabulary_.pieces[token];
    switch (vocabulary_.types[token]) {
        case TokenType::Control:
        case TokenType::Unused:
            return "";
        case TokenType::Unknown:
            return " \xE2\x81\x87 ";  // U+2047, as SentencePiece renders <unk>
        case TokenType::Byte: {
            unsigned value = 0;
            if (std::sscanf(piece.c_str(), "<0x%2X>", &value) == 1)
                return std::string(1, static_cast<char>(value));
            return piece;
        }
        default:
            break;
    }
    std::string text = replace_all(piece, kSpaceMarker, " ");
    if (previous_token == vocabulary_.bos_id && vocabulary_.add_space_prefix && !text.empty() &&
        text[0] == ' ') {
        text.erase(0, 1);
    }
    return text;
}

std::string Tokenizer::decode(std::span<const int32_t> tokens) const {
    std::string text;
    int32_t previous = vocabulary_.bos_id;
    for (const auto token : tokens) {
        text += token_bytes(token, previous);
        previous = token;
    }
    return text;
}

}  // namespace llcuda
