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

class GgufFile;
// A file's label: general.file_type's when it has one, else the name of the tensor type that
// holds the most bytes ("F32" for the embedded stories260K, which records no file type).
std::string file_type_of(const GgufFile& file);
}  // namespace llcuda
