#pragma once
// Builds a GGUF v3 file: metadata in insertion order, tensors aligned as the specification
// requires. write() goes through a temporary file and a rename, so a failed or interrupted
// write never leaves a half-written model under the final name.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.hpp"
#include "core/gguf/gguf_value.hpp"

namespace llcuda {

class GgufWriter {
  public:
    void set(const std::string& key, GgufValue value);
    void add_tensor(const std::string& name, DType type, std::vector<uint64_t> shape,
                    std::vector<uint8_t> data);

    std::vector<uint8_t> serialize() const;
    void write(const std::string& path) const;

  private:
    struct PendingTensor {
        std::string name;
        DType type;
        std::vector<uint64_t> shape;
        std::vector<uint8_t> data;
    };
    uint64_t alignment() const;

    std::vector<std::pair<std::string, GgufValue>> metadata_;
    std::vector<PendingTensor> tensors_;
};

}  // namespace llcuda
