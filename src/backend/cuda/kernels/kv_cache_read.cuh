// Reading one element of a KV cache row, F16 or Q8_0 (GGUF's block layout: a half scale and 32
// int8 per block), for the attention kernels.
#pragma once

#include <cuda_fp16.h>

#include "backend/cuda/kernels/activation_quant.cuh"
#include "core/dtype.hpp"
#include "core/quant/blocks.hpp"

namespace llcuda::cuda {

// Element `i` of cache row `row` (kv_dim values, F16 or Q8_0 blocks).
template <DType T>
__device__ __forceinline__ float kv_at(const uint8_t* cache, size_t row_bytes, int row, int i);

template <>
__device__ __forceinline__ float kv_at<DType::F16>(const uint8_t* cache, size_t row_bytes, int row,
                                                   int i) {
    return __half2float(reinterpret_cast<const __half*>(cache + row * row_bytes)[i]);
}

template <>
__device__ __forceinline__ float kv_at<DType::Q8_0>(const uint8_t* cache, size_t row_bytes, int row,
                                                    int i) {
    const uint8_t* block = cache + row * row_bytes + (i / 32) * sizeof(BlockQ8_0);
    return half_at(block) * static_cast<float>(reinterpret_cast<const int8_t*>(block + 2)[i % 32]);
}

}  // namespace llcuda::cuda
