#include "tokenizer/sentencepiece_tokenizer.hpp"

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

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer(Vocabulary vocabulary)
    : Tokenizer(std::move(vocabulary)) {
    const auto& v = this->vocabulary();
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

void SentencePieceTokenizer::encode_text(std::string_view text, bool first,
                                         std::vector<int32_t>& output) const {
    std::string prepared;
    if (first && vocabulary().add_space_prefix) prepared = " ";
    prepared += text;
    encode_pieces(replace_all(prepared, " ", kSpaceMarker), output);
}

// BPE as SentencePiece does it: start from single characters, repeatedly merge the adjacent
// pair whose concatenation is the highest-scoring piece (leftmost on ties), until no pair
// forms a piece.
void SentencePieceTokenizer::encode_pieces(std::string_view text,
                                           std::vector<int32_t>& output) const {
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
        queue.push({vocabulary().scores[found->second], left, right, length});
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

void SentencePieceTokenizer::append_symbol(std::string_view symbol,
                                           std::vector<int32_t>& output) const {
    const auto found = mergeable_.find(std::string(symbol));
    if (found != mergeable_.end()) {
        output.push_back(found->second);
        return;
    }
    const int32_t unknown = vocabulary().unknown_id;
    if (!has_byte_tokens_) {
        if (unknown != kNoToken) output.push_back(unknown);
        return;
    }
    for (const char byte : symbol) {
        const int32_t token = byte_tokens_[static_cast<unsigned char>(byte)];
        if (token >= 0 || unknown != kNoToken) output.push_back(token >= 0 ? token : unknown);
    }
}

std::string SentencePieceTokenizer::token_bytes(int32_t token, bool at_text_start) const {
    check_token(token);
    const auto& piece = vocabulary().pieces[static_cast<size_t>(token)];
    switch (vocabulary().types[static_cast<size_t>(token)]) {
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
    if (at_text_start && vocabulary().add_space_prefix && !text.empty() && text[0] == ' ') {
        text.erase(0, 1);
    }
    return text;
}

}  // namespace llcuda
