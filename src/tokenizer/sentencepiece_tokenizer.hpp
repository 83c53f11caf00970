#pragma once
// SentencePiece (BPE with byte fallback) tokenization as Llama-family GGUF files describe it:
// pieces, scores and token types from tokenizer.ggml.* metadata.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/tokenizer.hpp"

namespace llcuda {

class SentencePieceTokenizer : public Tokenizer {
  public:
    explicit SentencePieceTokenizer(Vocabulary vocabulary);

    // A piece at the start of the text loses the space that stands for SentencePiece's dummy
    // prefix.
    std::string token_bytes(int32_t token, bool at_text_start) const override;

  protected:
    void encode_text(std::string_view text, bool first,
                     std::vector<int32_t>& output) const override;

  private:
    void encode_pieces(std::string_view text, std::vector<int32_t>& output) const;
    void append_symbol(std::string_view symbol, std::vector<int32_t>& output) const;

    std::unordered_map<std::string, int32_t> mergeable_;  // normal and user-defined pieces
    std::array<int32_t, 256> byte_tokens_{};
    bool has_byte_tokens_ = false;
};

}  // namespace llcuda
