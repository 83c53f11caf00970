#pragma once
// Turns a stream of byte chunks into valid UTF-8 text without ever splitting a character:
// an incomplete sequence at the end of a chunk waits for the next one; bytes that can never
// form a character become U+FFFD.
#include <string>
#include <string_view>

namespace llcuda {

class Utf8Stream {
  public:
    std::string push(std::string_view bytes);
    std::string finish();  // whatever is left is incomplete: one U+FFFD for it

  private:
    std::string pending_;
};

// Token ids in, displayable text out: a tokenizer's bytes through a Utf8Stream.
template <typename TokenizerType>
class StreamingDetokenizer {
  public:
    explicit StreamingDetokenizer(const TokenizerType& tokenizer, int previous_token)
        : tokenizer_(tokenizer), previous_(previous_token) {}
    std::string push(int token) {
        auto text = stream_.push(tokenizer_.token_bytes(token, previous_));
        previous_ = token;
        return text;
    }
    std::string finish() { return stream_.finish(); }

  private:
    const TokenizerType& tokenizer_;
    int previous_;
    Utf8Stream stream_;
};

}  // namespace llcuda
