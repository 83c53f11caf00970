#include "tokenizer/byte_level_bpe_tokenizer.hpp"

#include <fmt/format.h>

#include <queue>

#include "core/error.hpp"
#include "tokenizer/byte_unicode.hpp"

namespace llcuda {

ByteLevelBpeTokenizer::ByteLevelBpeTokenizer(Vocabulary vocabulary)
    : Tokenizer(std::move(vocabulary)),
      pre_tokenizer_(find_pre_tokenizer(this->vocabulary().pre)),
      ignore_merges_(find_pre_tokenizer(this->vocabulary().pre).ignore_merges) {
    const auto& v = this->vocabulary();
    for (size_t id = 0; id < v.pieces.size(); ++id) {
        const auto type = v.types[id];
        if (type == TokenType::Normal || type == TokenType::Undefined || type == TokenType::Byte)
            piece_ids_.emplace(v.pieces[id], static_cast<int32_t>(id));
    }
    for (size_t byte = 0; byte < 256; ++byte) {
        const auto found = piece_ids_.find(byte_to_unicode(static_cast<uint8_t>(byte)));
        byte_tokens_[byte] = found == piece_ids_.end() ? kNoToken : found->second;
    }
    read_merges();
}

void ByteLevelBpeTokenizer::read_merges() {
    const auto& merges = vocabulary().merges;
    merges_.reserve(merges.size());
    for (size_t rank = 0; rank < merges.size(); ++rank) {
        const auto& merge = merges[rank];
        // The separator is the first space after the first character: pieces are spelled
        // without raw spaces, but a first piece could be a space itself.
        const size_t separator = merge.find(' ', 1);
        if (separator == std::string::npos) {
            throw Error(
                fmt::format("tokenizer.ggml.merges[{}] = '{}' is not two pieces "
                            "separated by a space",
                            rank, merge));
        }
        const std::string left = merge.substr(0, separator);
        const std::string right = merge.substr(separator + 1);
        const auto left_id = piece_ids_.find(left);
        const auto right_id = piece_ids_.find(right);
        const auto result = piece_ids_.find(left + right);
        if (left_id == piece_ids_.end() || right_id == piece_ids_.end() ||
            result == piece_ids_.end()) {
            throw Error(
                fmt::format("tokenizer.ggml.merges[{}] = '{}' names a piece that is not in "
                            "tokenizer.ggml.tokens",
                            rank, merge));
        }
        // A pair listed twice keeps its first (best) rank, as Hugging Face's BPE does.
        merges_.emplace(pair_key(left_id->second, right_id->second),
                        Merge{static_cast<int32_t>(rank), result->second});
    }
}

void ByteLevelBpeTokenizer::encode_text(std::string_view text, bool /*first*/,
                                        std::vector<int32_t>& output) const {
    pre_tokenizer_.split(text, [&](std::string_view word) { encode_word(word, output); });
}

void ByteLevelBpeTokenizer::encode_word(std::string_view word, std::vector<int32_t>& output) const {
    if (word.empty()) return;
    if (ignore_merges_ || word.size() == 1) {
        const auto whole = piece_ids_.find(bytes_to_unicode(word));
        if (whole != piece_ids_.end()) {
            output.push_back(whole->second);
            return;
        }
    }
    struct Symbol {
        int32_t token;
        int previous;
        int next;
    };
    std::vector<Symbol> symbols;
    symbols.reserve(word.size());
    for (size_t i = 0; i < word.size(); ++i) {
        const int index = static_cast<int>(i);
        symbols.push_back({byte_tokens_[static_cast<uint8_t>(word[i])], index - 1, index + 1});
    }
    symbols.back().next = -1;

    struct Candidate {
        int32_t rank;
        int left;
        int right;
        int32_t left_token;
        int32_t right_token;
        bool operator>(const Candidate& other) const {
            return rank != other.rank ? rank > other.rank : left > other.left;
        }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
    auto try_pair = [&](int left, int right) {
        if (left < 0 || right < 0) return;
        const int32_t a = symbols[left].token;
        const int32_t b = symbols[right].token;
        if (a == kNoToken || b == kNoToken) return;
        const auto found = merges_.find(pair_key(a, b));
        if (found != merges_.end()) queue.push({found->second.rank, left, right, a, b});
    };
    for (int i = 0; i + 1 < static_cast<int>(symbols.size()); ++i) try_pair(i, i + 1);

    while (!queue.empty()) {
        const auto candidate = queue.top();
        queue.pop();
        auto& left = symbols[candidate.left];
        auto& right = symbols[candidate.right];
        if (left.next != candidate.right || left.token != candidate.left_token ||
            right.token != candidate.right_token) {
            continue;  // one side merged into something else since this was queued
        }
        left.token = merges_.at(pair_key(candidate.left_token, candidate.right_token)).result;
        left.next = right.next;
        if (right.next >= 0) symbols[right.next].previous = candidate.left;
        right.token = kNoToken;
        right.previous = right.next = -1;
        try_pair(left.previous, candidate.left);
        try_pair(candidate.left, left.next);
    }
    for (int i = 0; i >= 0; i = symbols[i].next) {
        const int32_t token = symbols[i].token;
        if (token != kNoToken) {
            output.push_back(token);
        } else if (vocabulary().unknown_id != kNoToken) {
            output.push_back(vocabulary().unknown_id);  // a byte the vocabulary cannot spell
        }
    }
}

std::string ByteLevelBpeTokenizer::token_bytes(int32_t token, bool /*at_text_start*/) const {
    check_token(token);
    const auto index = static_cast<size_t>(token);
    const auto& piece = vocabulary().pieces[index];
    switch (vocabulary().types[index]) {
        case TokenType::Normal:
        case TokenType::Undefined:
        case TokenType::Byte:
            return unicode_to_bytes(piece);
        case TokenType::UserDefined:
            return piece;  // added tokens are stored as the text itself, not byte-spelled
        default:
            return "";  // control, unknown and unused tokens print nothing
    }
}

}  // namespace llcuda
