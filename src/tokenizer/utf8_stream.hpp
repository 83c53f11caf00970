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

}  // namespace llcuda
