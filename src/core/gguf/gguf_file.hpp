#pragma once
// A parsed, validated GGUF file (v2 or v3). Parsing checks every count, length and offset
// against the file size before using it, so hostile files produce llcuda::Error, never a
// crash. Tensor data stays in the mapping (zero copy).
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/dtype.hpp"
#include "core/gguf/gguf_value.hpp"
#include "core/mapped_file.hpp"

namespace llcuda {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
constexpr uint32_t kGgufDefaultAlignment = 32;
constexpr size_t kMaxTensorDims = 4;

struct GgufTensorInfo {
    std::string name;
    std::vector<uint64_t> shape;  // shape[0] is the contiguous (row) dimension, as in GGUF
    DType type;
    uint64_t offset;  // relative to the start of the data section
    uint64_t element_count;
    uint64_t byte_count;
};

class GgufFile {
  public:
    static GgufFile open(const std::string& path);
    // Parses bytes owned by someone else (the embedded model); they must outlive the object.
    static GgufFile from_memory(std::span<const uint8_t> bytes, std::string description);

    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }
    uint64_t file_size() const { return bytes_.size(); }
    const std::string& description() const { return description_; }

    const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
    const GgufValue* find(const std::string& key) const;
    const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
    const GgufTensorInfo* find_tensor(const std::string& name) const;
    const uint8_t* tensor_data(const GgufTensorInfo& tensor) const;

    // Typed metadata helpers; missing or mistyped keys raise errors naming the key.
    std::string get_string(const std::string& key) const;
    uint64_t get_uint(const std::string& key) const;
    std::optional<uint64_t> find_uint(const std::string& key) const;
    std::optional<double> find_double(const std::string& key) const;
    std::optional<std::string> find_string(const std::string& key) const;

  private:
    GgufFile() = default;
    void parse();

    std::shared_ptr<MappedFile> mapping_;
    std::span<const uint8_t> bytes_;
    std::string description_;
    uint32_t version_ = 0;
    uint64_t alignment_ = kGgufDefaultAlignment;
    uint64_t data_offset_ = 0;
    std::vector<std::pair<std::string, GgufValue>> metadata_;
    std::unordered_map<std::string, size_t> metadata_index_;
    std::vector<GgufTensorInfo> tensors_;
    std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace llcuda
