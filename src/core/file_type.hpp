#pragma once
// The values of GGUF's general.file_type (llama.cpp's llama_ftype): the label users know a
// file by ("Q4_K_M") and, for the ones llcuda writes, the tensor type its quantizer uses.
#include <cstdint>
#include <optional>
#include <string>

#include "core/dtype.hpp"

namespace llcuda {

std::string file_type_label(uint64_t file_type);            // "type N" for unknown values
std::optional<uint32_t> file_type_written_for(DType type);  // what `quantize` records
}  // namespace llcuda
