// Rows of a stored matrix expanded to float or half: embedding lookups (rows picked by token id)
// and whole weight matrices for the tensor-core GEMM of prompt processing. One thread per
// 32-element sub-block.
#include <fmt/format.h>

#include "backend/cuda/cuda_ops.hpp"
#include "backend/cuda/kernels/kernel_launch.cuh"
#include "backend/cuda/kernels/quant_unpack.cuh"
#include "core/error.hpp"

namespace llcuda::cuda {
namespace {

__device__ __forceinline__ void store(float* out, float v) { *out = v; }
__device__ __forceinline__ void store(__half* out, float v) { *out = __float2half(v); }

__device__ __forceinline__ size_t source_row(const int32_t* row_indices, size_t i) {
    return row_indices != nullptr ? static_cast<size_t>(row_indices[i]) : i;
}

template <DType T, typename Out>
__global__ void dequantize_quantized_kernel(const uint8_t* weights, size_t row_stride,
                                            const int32_t* row_indices, size_t rows, int sub_blocks,
                                            Out* out) {
    begin_after_previous_kernel();
    const size_t index = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (index >= rows * sub_blocks) return;
    const size_t row = index / sub_blocks;
    const int sub = static_cast<int>(index % sub_blocks);
    SubBlock block;
    unpack_sub_block<T>(weights + source_row(row_indices, row) * row_stride, sub, block);
    // 32 values, written as 16-byte vectors (the row's sub-block is 64- or 128-byte aligned).
    alignas(16) Out values[32];
#pragma unroll
    for (int i = 0; i < 32; ++i) {
        const int h = i / 16;
        store(values + i, block.scale[h] * static_cast<float>(byte_of(block.q[i / 4], i % 4)) +
                              block.offset[h]);
    }
    auto* destination = reinterpret_cast<uint4*>(out + row * sub_blocks * 32 + sub * 32);
    const auto* source = reinterpret_cast<const uint4*>(values);
#pragma unroll
    for (int i = 0; i < static_cast<int>(sizeof(values) / sizeof(uint4)); ++i)
        destination[i] = source[i];
}

template <typename In, typename Out>
__global__ void convert_rows_kernel(const In* weights, const int32_t* row_indices, size_t rows,
                                    size_t columns, Out* out) {
    begin_after_previous_kernel();
    const size_t index = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (index >= rows * columns) return;
    const size_t row = index / columns;
    const size_t column = index % columns;
    store(out + index, to_float(weights[source_row(row_indices, row) * columns + column]));
}

template <typename Out>
void launch(const DeviceMatrix& m, const int32_t* row_indices, size_t row_count, Out* out,
            cudaStream_t stream) {
    constexpr unsigned kThreads = 256;
    if (!is_quantized(m.type)) {
        const size_t total = row_count * m.columns;
        const unsigned grid = static_cast<unsigned>((total + kThreads - 1) / kThreads);
        switch (m.type) {
            case DType::F32:
                convert_rows_kernel<<<grid, kThreads, 0, stream>>>(
                    reinterpret_cast<const float*>(m.data), row_indices, row_count, m.columns, out);
                return;
            case DType::F16:
                convert_rows_kernel<<<grid, kThreads, 0, stream>>>(
                    reinterpret_cast<const __half*>(m.data), row_indices, row_count, m.columns,
                    out);
                return;
            case DType::BF16:
                convert_rows_kernel<<<grid, kThreads, 0, stream>>>(
                    reinterpret_cast<const __nv_bfloat16*>(m.data), row_indices, row_count,
                    m.columns, out);
                return;
            default:
                break;
        }
    }
    const int sub_blocks = static_cast<int>(m.columns / 32);
    const size_t total = row_count * sub_blocks;
    const unsigned grid = static_cast<unsigned>((total + kThreads - 1) / kThreads);
    switch (m.type) {
#define LLCUDA_DEQUANTIZE_CASE(NAME)                                              \
    case DType::NAME:                                                             \
        dequantize_quantized_kernel<DType::NAME><<<grid, kThreads, 0, stream>>>(  \
            m.data, m.row_stride_bytes, row_indices, row_count, sub_blocks, out); \
        return;
        LLCUDA_FOR_EACH_QUANT_TYPE(LLCUDA_DEQUANTIZE_CASE)
#undef LLCUDA_DEQUANTIZE_CASE
        default:
            break;
    }
    throw Error(fmt::format("no GPU dequantization kernel for {}", dtype_name(m.type)));
}

__global__ void float_to_half_kernel(const float* in, __half* out, size_t count) {
    begin_after_previous_kernel();
    const size_t index = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (index < count) out[index] = __float2half(in[index]);
}

}  // namespace

void dequantize_rows(const DeviceMatrix& weights, const int32_t* row_indices, size_t row_count,
                     void* out, bool out_half, cudaStream_t stream) {
    if (row_count == 0) return;
    if (out_half)
        launch(weights, row_indices, row_count, static_cast<__half*>(out), stream);
    else
        launch(weights, row_indices, row_count, static_cast<float*>(out), stream);
    check_launch("dequantize_rows");
}

void float_to_half(const float* in, void* out, size_t count, cudaStream_t stream) {
    if (count == 0) return;
    constexpr unsigned kThreads = 256;
    float_to_half_kernel<<<static_cast<unsigned>((count + kThreads - 1) / kThreads), kThreads, 0,
                           stream>>>(in, static_cast<__half*>(out), count);
    check_launch("float_to_half");
}

}  // namespace llcuda::cuda
