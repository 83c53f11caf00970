#include "tokenizer/tokenizer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "core/error.hpp"

namespace llcuda {
namespace {

// Pieces that end a turn in the chat formats of the families llcuda runs; llama.cpp stops on
// the same ones, since converters often leave tokenizer.ggml.eot_token_id out.
constexpr std::array<std::string_view, 10> kEndOfTurnPieces{
    "<|eot_id|>",        "<|eom_id|>",    "<|im_end|>",
    "<|end|>",           "<end_of_turn>", "<|endoftext|>",
    "<|end_of_text|>",   "<EOT>",         "<｜end▁of▁sentence｜>",
    "<end_of_utterance>"};

}  // namespace

Tokenizer::Tokenizer(Vocabulary vocabulary) : vocabulary_(std::move(vocabulary)) {
    const auto& v = vocabulary_;
    if (v.pieces.size() != v.scores.size() || v.pieces.size() != v.types.size()) {
        throw Error("vocabulary pieces, scores and types differ in length");
    }
    for (const int32_t id : {v.eos_id, v.eot_id, v.eom_id}) {
        if (id != kNoToken) end_of_generation_.insert(id);
    }
    for (size_t id = 0; id < v.pieces.size(); ++id) {
        const auto& piece = v.pieces[id];
        const auto token = static_cast<int32_t>(id);
        const auto type = v.types[id];
        if ((type == TokenType::Control || type == TokenType::UserDefined) && !piece.empty()) {
            special_pieces_[static_cast<unsigned char>(piece[0])].push_back({piece, token});
        }
        if (type != TokenType::Normal && std::find(kEndOfTurnPieces.begin(), kEndOfTurnPieces.end(),
                                                   piece) != kEndOfTurnPieces.end()) {
            end_of_generation_.insert(token);
        }
    }
    for (auto& [byte, pieces] : special_pieces_) {
        std::stable_sort(pieces.begin(), pieces.end(), [](const auto& a, const auto& b) {
            return a.text.size() > b.text.size();
        });
    }
}

std::vector<int32_t> Tokenizer::end_of_generation_tokens() const {
    std::vector<int32_t> tokens(end_of_generation_.begin(), end_of_generation_.end());
    std::sort(tokens.begin(), tokens.end());
    return tokens;
}

const Tokenizer::SpecialPiece* Tokenizer::special_at(std::string_view text, size_t position) const {
    const auto found = special_pieces_.find(static_cast<unsigned char>(text[position]));
    if (found == special_pieces_.end()) return nullptr;
    for (const auto& piece : found->second) {
        if (text.substr(position, piece.text.size()) == piece.text) return &piece;
    }
    return nullptr;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
    std::vector<int32_t> output;
    if (add_special && vocabulary_.add_bos && vocabulary_.bos_id != kNoToken)
        output.push_back(vocabulary_.bos_id);
    bool first = true;
    size_t segment = 0;  // start of the text not yet encoded
    if (parse_special && !special_pieces_.empty()) {
        // One pass, trying the special pieces only where one could start: linear in the text.
        for (size_t position = 0; position < text.size(); ++position) {
            const auto* special = special_at(text, position);
            if (!special) continue;
            if (position > segment) {
                encode_text(text.substr(segment, position - segment), first, output);
            }
            output.push_back(special->token);
            first = false;
            position += special->text.size() - 1;
            segment = position + 1;
        }
    }
    if (segment < text.size()) encode_text(text.substr(segment), first, output);
    if (add_special && vocabulary_.add_eos && vocabulary_.eos_id != kNoToken)
        output.push_back(vocabulary_.eos_id);
    return output;
}

std::string Tokenizer::decode(std::span<const int32_t> tokens) const {
    std::string text;
    bool at_text_start = true;
    for (const auto token : tokens) {
        text += token_bytes(token, at_text_start);
        at_text_start = starts_text(token);
    }
    return text;
}

void Tokenizer::check_token(int32_t token) const {
    if (token < 0 || static_cast<size_t>(token) >= size()) {
        throw Error(fmt::format("token id {} is outside the {}-token vocabulary", token, size()));
    }
}

}  // namespace llcuda
