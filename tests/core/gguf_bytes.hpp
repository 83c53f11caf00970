#pragma once
// Hand-assembles GGUF bytes, including ones no correct writer would produce, for the
// reader's hostile-input tests.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace llcuda::testing {

struct GgufBytes {
    std::vector<uint8_t> bytes;

    template <typename T>
    GgufBytes& put(T value) {
        const size_t old = bytes.size();
        bytes.resize(old + sizeof(T));
        std::memcpy(bytes.data() + old, &value, sizeof(T));
        return *this;
    }
    GgufBytes& string(const std::string& text) {
        put<uint64_t>(text.size());
        bytes.insert(bytes.end(), text.begin(), text.end());
        return *this;
    }
    GgufBytes& header(uint64_t tensors, uint64_t metadata, uint32_t version = 3) {
        put<uint32_t>(0x46554747)
            .put<uint32_t>(version)
            .put<uint64_t>(tensors)
            .put<uint64_t>(metadata);
        return *this;
    }
    GgufBytes& kv_u32(const std::string& key, uint32_t value) {
        string(key).put<uint32_t>(4).put<uint32_t>(value);
        return *this;
    }
    GgufBytes& tensor(const std::string& name, std::vector<uint64_t> shape, uint32_t type,
                      uint64_t offset) {
        string(name).put<uint32_t>(static_cast<uint32_t>(shape.size()));
        for (const auto extent : shape) put<uint64_t>(extent);
        put<uint32_t>(type).put<uint64_t>(offset);
        return *this;
    }
    GgufBytes& pad(size_t alignment = 32) {
        while (bytes.size() % alignment != 0) bytes.push_back(0);
        return *this;
    }
    GgufBytes& zeros(size_t count) {
        bytes.resize(bytes.size() + count, 0);
        return *this;
    }
};

}  // namespace llcuda::testing
