#pragma once
// Tensor element types, numbered as in the GGUF specification (ggml_type). Quantized types
// store elements in fixed-size blocks; a row's length must be a multiple of the block size.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llcuda {

enum class DType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    BF16 = 30,
};

struct DTypeTraits {
    DType type;
    std::string_view name;
    size_t block_elements;  // elements per block (1 for plain float types)
    size_t block_bytes;     // bytes per block
};

// Traits of a supported type, or nullopt for a GGUF type id we cannot handle.
std::optional<DTypeTraits> find_dtype(uint32_t type_id);
const DTypeTraits& dtype_traits(DType type);
std::string_view dtype_name(DType type);
// Whether `type` stores elements in blocks with scales (every type but F32, F16 and BF16).
bool is_quantized(DType type);
std::optional<DType> dtype_from_name(std::string_view name);  // case-insensitive

// Bytes of a row of `elements` values; throws if `elements` is not a whole number of blocks.
size_t row_bytes(DType type, uint64_t elements);

// Name of a GGUF type id, including ones we know of but do not support (for messages).
std::string ggml_type_name(uint32_t type_id);

}  // namespace llcuda
