#pragma once
// SentencePiece (BPE with byte fallback) tokenization as Llama-family GGUF files describe it:
// pieces, scores and token types from tokenizer.ggml.* metadata.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/gguf/gguf_file.hpp"

namespace llcuda {

enum class TokenType : int32_t {
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
};

struct Vocabulary {
    std::vector<std::string> pieces;
    std::vector<float> scores;
    std::vector<TokenType> types;
    int32_t bos_id = 1;
    int32_t eos_id = 2;
    int32_t unknown_id = 0;
    bool add_bos = true;
    bool add_space_prefix = true;
};

Vocabulary read_vocabulary(const GgufFile& file);

class Tokenizer {
  public:
    explicit Tokenizer(Vocabulary vocabulary);

    // parse_special: text equal to a control token's piece ("<s>") becomes that token;
    // otherwise it is ordinary text, as SentencePiece itself treats it.
    std::vector<int32_t> encode(std::string_view text, bool add_bos,
                                bool parse_special = false) const;

    // The bytes of one token as it appears in text. A piece right after BOS loses the space
    // that stands for SentencePiece's dummy prefix. Control tokens decode to nothing.
    std::string token_bytes(int32_t token, int32_t previous_token) const;
    std::string decode(std::span<const int32_t> tokens) const;

    const Vocabulary& vocabulary() const { return vocabulary_; }
    size_t size() const { return vocabulary_.pieces.size(); }
    int32_t bos_id() const { return vocabulary_.bos_id; }
    int32_t eos_id() const { return vocabulary_.eos_id; }
    bool is_end_of_generation(int32_t token) const { return token == vocabulary_.eos_id; }

  private:
    void encode_text(std::string_view text, std::vector<int32_t>& output) const;
    void append_symbol(std::string_view symbol, std::vector<int32_t>& output) const;

    Vocabulary vocabulary_;
    std::unordered_map<std::string, int32_t> mergeable_;  // normal and user-defined pieces
    std::vector<std::pair<std::string, int32_t>> control_pieces_;
    std::array<int32_t, 256> byte_tokens_{};
    bool has_byte_tokens_ = false;
};

}  // namespace llcuda
