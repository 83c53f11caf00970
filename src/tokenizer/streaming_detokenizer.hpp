#pragma once
// Token ids in, displayable text out, one token at a time: each token's bytes go through a
// Utf8Stream, so a character whose bytes are split across byte-level tokens is held back
// until its last byte arrives, and the text equals Tokenizer::decode of the same tokens.
#include <cstdint>
#include <string>

#include "tokenizer/tokenizer.hpp"
#include "tokenizer/utf8_stream.hpp"

namespace llcuda {

class StreamingDetokenizer {
  public:
    // previous_token: the token the text continues from (the prompt's last), kNoToken for none.
    StreamingDetokenizer(const Tokenizer& tokenizer, int32_t previous_token)
        : tokenizer_(tokenizer),
          at_text_start_(previous_token == kNoToken || tokenizer.starts_text(previous_token)) {}

    std::string push(int32_t token) {
        auto text = stream_.push(tokenizer_.token_bytes(token, at_text_start_));
        at_text_start_ = tokenizer_.starts_text(token);
        return text;
    }
    std::string finish() { return stream_.finish(); }

  private:
    const Tokenizer& tokenizer_;
    bool at_text_start_;
    Utf8Stream stream_;
};

}  // namespace llcuda
