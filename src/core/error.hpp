#pragma once
// One exception type for every error a user can act on; the message says what went wrong
// and, where we know, what to do about it.
#include <stdexcept>
#include <string>

namespace llcuda {

class Error : public std::runtime_error {
  public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace llcuda
