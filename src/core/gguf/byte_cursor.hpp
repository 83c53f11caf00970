#pragma once
// Bounds-checked little-endian reads over a byte span; running past the end throws an error
// that names what was being read and where.
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "core/error.hpp"

namespace llcuda {

class ByteCursor {
  public:
    ByteCursor(std::span<const uint8_t> bytes, std::string description)
        : bytes_(bytes), description_(std::move(description)) {}

    uint64_t position() const { return position_; }
    uint64_t remaining() const { return bytes_.size() - position_; }

    template <typename T>
    T read(const char* what) {
        require(sizeof(T), what);
        T value;
        std::memcpy(&value, bytes_.data() + position_, sizeof(T));
        position_ += sizeof(T);
        return value;
    }

    std::string read_string(const char* what) {
        const auto length = read<uint64_t>(what);
        require(length, what);
        std::string text(reinterpret_cast<const char*>(bytes_.data() + position_), length);
        position_ += length;
        return text;
    }

    void require(uint64_t count, const char* what) const {
        if (count > remaining()) {
            throw Error(description_ + ": truncated or corrupt: " + what + " at byte " +
                        std::to_string(position_) + " needs " + std::to_string(count) +
                        " bytes but only " + std::to_string(remaining()) + " remain");
        }
    }

  private:
    std::span<const uint8_t> bytes_;
    std::string description_;
    uint64_t position_ = 0;
};

}  // namespace llcuda
