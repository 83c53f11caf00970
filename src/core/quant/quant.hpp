#pragma once
// Row-level conversion between floats and every supported storage type, and the dot product
// of a stored row with a float vector (the inner loop of a CPU matrix-vector product).
#include <cstddef>
#include <cstdint>

#include "core/dtype.hpp"

namespace llcuda {

// `count` must be a multiple of the type's block size (checked; throws llcuda::Error).
void dequantize_row(DType type, const void* source, float* destination, size_t count);
void quantize_row(DType type, const float* source, void* destination, size_t count);
float dot_row(DType type, const void* row, const float* vector, size_t count);

}  // namespace llcuda
