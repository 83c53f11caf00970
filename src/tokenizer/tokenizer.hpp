#pragma once
// One interface for every tokenizer llcuda reads from GGUF files (SentencePiece, byte-level
// BPE): text to token ids and back, special tokens, and the set of tokens that end generation.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tokenizer/vocabulary.hpp"

namespace llcuda {

class Tokenizer {
  public:
    explicit Tokenizer(Vocabulary vocabulary);
    virtual ~Tokenizer() = default;
    Tokenizer(const Tokenizer&) = delete;
    Tokenizer& operator=(const Tokenizer&) = delete;

    // add_special: BOS and EOS where the vocabulary asks for them (add_bos_token,
    // add_eos_token). parse_special: the text of a control or user-defined token ("<s>",
    // "<|eot_id|>") becomes that token and is never split; otherwise it is ordinary text.
    std::vector<int32_t> encode(std::string_view text, bool add_special,
                                bool parse_special = false) const;

    // The bytes `token` adds to a text. at_text_start: nothing but control tokens came before
    // it (SentencePiece drops the space that stands for its dummy prefix there). A byte-level
    // piece may be part of a UTF-8 character; control tokens add nothing.
    virtual std::string token_bytes(int32_t token, bool at_text_start) const = 0;
    // Whether the text starts again after `token` (BOS).
    bool starts_text(int32_t token) const { return token == vocabulary_.bos_id; }
    std::string decode(std::span<const int32_t> tokens) const;

    const Vocabulary& vocabulary() const { return vocabulary_; }
    size_t size() const { return vocabulary_.pieces.size(); }
    int32_t bos_id() const { return vocabulary_.bos_id; }
    int32_t eos_id() const { return vocabulary_.eos_id; }
    // EOS, EOT, EOM, and the pieces that end a turn in the chat formats (<|im_end|>,
    // <|eot_id|>, <end_of_turn>, <|endoftext|>, ...) when the vocabulary has them.
    bool is_end_of_generation(int32_t token) const { return end_of_generation_.contains(token); }
    std::vector<int32_t> end_of_generation_tokens() const;

  protected:
    // Tokens for a piece of text without special tokens. first: no text or special token came
    // before it in this encode() call.
    virtual void encode_text(std::string_view text, bool first,
                             std::vector<int32_t>& output) const = 0;
    void check_token(int32_t token) const;  // throws for ids outside the vocabulary

  private:
    struct SpecialPiece {
        std::string_view text;
        int32_t token;
    };
    const SpecialPiece* special_at(std::string_view text, size_t position) const;

    Vocabulary vocabulary_;
    std::unordered_set<int32_t> end_of_generation_;
    // Control and user-defined pieces by first byte, longest first (the longest match wins).
    std::unordered_map<unsigned char, std::vector<SpecialPiece>> special_pieces_;
};

// The tokenizer the vocabulary's model names.
std::unique_ptr<Tokenizer> make_tokenizer(Vocabulary vocabulary);
std::unique_ptr<Tokenizer> load_tokenizer(const GgufFile& file);

}  // namespace llcuda
