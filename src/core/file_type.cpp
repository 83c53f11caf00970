#include "core/file_type.hpp"

#include <fmt/format.h>

#include <array>
#include <map>

#include "core/gguf/gguf_file.hpp"

namespace llcuda {
namespace {

struct FileType {
    uint32_t id;
    const char* label;
    std::optional<DType> written_for;  // the quantize target recorded with this value
};

constexpr std::array<FileType, 17> kFileTypes{{
    {0, "F32", DType::F32},
    {1, "F16", DType::F16},
    {2, "Q4_0", DType::Q4_0},
    {3, "Q4_1", DType::Q4_1},
    {7, "Q8_0", DType::Q8_0},
    {8, "Q5_0", DType::Q5_0},
    {9, "Q5_1", DType::Q5_1},
    {10, "Q2_K", DType::Q2_K},
    {11, "Q3_K_S", std::nullopt},
    {12, "Q3_K_M", DType::Q3_K},
    {13, "Q3_K_L", std::nullopt},
    {14, "Q4_K_S", std::nullopt},
    {15, "Q4_K_M", DType::Q4_K},
    {16, "Q5_K_S", std::nullopt},
    {17, "Q5_K_M", DType::Q5_K},
    {18, "Q6_K", DType::Q6_K},
    {32, "BF16", DType::BF16},
}};

}  // namespace

std::string file_type_label(uint64_t file_type) {
    for (const auto& entry : kFileTypes) {
        if (entry.id == file_type) return entry.label;
    }
    return fmt::format("type {}", file_type);
}

std::optional<uint32_t> file_type_written_for(DType type) {
    for (const auto& entry : kFileTypes) {
        if (entry.written_for == type) return entry.id;
    }
    return std::nullopt;
}

std::string file_type_of(const GgufFile& file) {
    if (const auto file_type = file.find_uint("general.file_type"))
        return file_type_label(*file_type);
    std::map<std::string, uint64_t> bytes_by_type;
    for (const auto& tensor : file.tensors())
        bytes_by_type[std::string(dtype_name(tensor.type))] += tensor.byte_count;
    std::string label;
    uint64_t best = 0;
    for (const auto& [name, bytes] : bytes_by_type) {
        if (bytes > best) {
            best = bytes;
            label = name;
        }
    }
    return label;
}

}  // namespace llcuda
