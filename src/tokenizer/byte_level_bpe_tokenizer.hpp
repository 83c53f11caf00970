#pragma once
// Byte-level BPE (GPT-2, Llama 3, Qwen, DeepSeek, ...): the text is cut into words by the
// pre-tokenizer that tokenizer.ggml.pre names, each byte of a word becomes the token that
// spells it (byte_unicode.hpp), and adjacent tokens merge by the rank of their pair in
// tokenizer.ggml.merges, lowest rank first, until no ranked pair is left.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pre_tokenizer.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llcuda {

class ByteLevelBpeTokenizer : public Tokenizer {
  public:
    explicit ByteLevelBpeTokenizer(Vocabulary vocabulary);

    std::string token_bytes(int32_t token, bool at_text_start) const override;

  protected:
    void encode_text(std::string_view text, bool first,
                     std::vector<int32_t>& output) const override;

  private:
    struct Merge {
        int32_t rank;
        int32_t result;
    };
    static uint64_t pair_key(int32_t left, int32_t right) {
        return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
               static_cast<uint32_t>(right);
    }
    void read_merges();
    void encode_word(std::string_view word, std::vector<int32_t>& output) const;

    PreTokenizer pre_tokenizer_;
    bool ignore_merges_;
    std::unordered_map<std::string, int32_t> piece_ids_;  // normal pieces, as spelled
    std::unordered_map<uint64_t, Merge> merges_;          // by (left, right) token pair
    std::array<int32_t, 256> byte_tokens_{};              // the token spelling each byte
};

}  // namespace llcuda
