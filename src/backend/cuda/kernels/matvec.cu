// Matrix-vector products for decode: one warp per weight row, lanes striding over the row's
// 32-element sub-blocks. Quantized rows are dotted with int8 activations by dp4a; the scales are
// applied once per 16 elements. Up to 8 tokens share one read of the weights.
#include <fmt/format.h>

#include "backend/cuda/cuda_ops.hpp"
#include "backend/cuda/kernels/quant_unpack.cuh"
#include "backend/cuda/kernels/warp_reduce.cuh"
#include "core/error.hpp"

namespace llcuda::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;

__global__ void quantize_activations_kernel(const float* x, size_t sub_blocks_per_token,
                                            size_t total_sub_blocks, ActivationBlock* blocks) {
    const size_t index = (static_cast<size_t>(blockIdx.x) * blockDim.y + threadIdx.y);
    if (index >= total_sub_blocks) return;
    const int lane = threadIdx.x;
    const size_t token = index / sub_blocks_per_token;
    const size_t sub = index % sub_blocks_per_token;
    const float value = x[token * sub_blocks_per_token * 32 + sub * 32 + lane];
    const float amax = warp_max(fabsf(value));
    const float d = amax / 127.0f;
    const int q = d > 0.0f ? static_cast<int>(rintf(value / d)) : 0;
    ActivationBlock& block = blocks[index];
    reinterpret_cast<int8_t*>(block.q)[lane] = static_cast<int8_t>(q);
    if (lane == 0) block.d = d;
}

__device__ __forceinline__ float dot(const SubBlock& w, const ActivationBlock& a) {
    int low = 0, high = 0, sum_low = 0, sum_high = 0;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        low = __dp4a(w.q[k], a.q[k], low);
        sum_low = __dp4a(0x01010101, a.q[k], sum_low);
        high = __dp4a(w.q[4 + k], a.q[4 + k], high);
        sum_high = __dp4a(0x01010101, a.q[4 + k], sum_high);
    }
    return a.d *
           (w.scale[0] * static_cast<float>(low) + w.scale[1] * static_cast<float>(high) +
            w.offset[0] * static_cast<float>(sum_low) + w.offset[1] * static_cast<float>(sum_high));
}

template <DType T, int kTokens>
__global__ void matvec_quantized_kernel(const uint8_t* weights, size_t row_stride, int rows,
                                        int sub_blocks, const ActivationBlock* activations,
                                        float* out) {
    const int row = blockIdx.x * kWarpsPerBlock + threadIdx.y;
    if (row >= rows) return;
    const uint8_t* w = weights + static_cast<size_t>(row) * row_stride;
    float sums[kTokens] = {};
    // Two sub-blocks per lane and iteration keep more loads in flight.
    int s = threadIdx.x;
    for (; s + 32 < sub_blocks; s += 64) {
        SubBlock first, second;
        unpack_sub_block<T>(w, s, first);
        unpack_sub_block<T>(w, s + 32, second);
#pragma unroll
        for (int t = 0; t < kTokens; ++t) {
            sums[t] += dot(first, activations[t * sub_blocks + s]) +
                       dot(second, activations[t * sub_blocks + s + 32]);
        }
    }
    if (s < sub_blocks) {
        SubBlock block;
        unpack_sub_block<T>(w, s, block);
#pragma unroll
        for (int t = 0; t < kTokens; ++t) sums[t] += dot(block, activations[t * sub_blocks + s]);
    }
#pragma unroll
    for (int t = 0; t < kTokens; ++t) {
        const float total = warp_sum(sums[t]);
        if (threadIdx.x == 0) out[static_cast<size_t>(t) * rows + row] = total;
    }
}

template <typename W, int kTokens>
__global__ void matvec_float_kernel(const W* weights, int rows, int columns, const float* x,
                                    float* out) {
    const int row = blockIdx.x * kWarpsPerBlock + threadIdx.y;
    if (row >= rows) return;
    const W* w = weights + static_cast<size_t>(row) * columns;
    float sums[kTokens] = {};
    for (int c = threadIdx.x; c < columns; c += 32) {
        const float value = to_float(w[c]);
#pragma unroll
        for (int t = 0; t < kTokens; ++t)
            sums[t] += value * x[static_cast<size_t>(t) * columns + c];
    }
#pragma unroll
    for (int t = 0; t < kTokens; ++t) {
        const float total = warp_sum(sums[t]);
        if (threadIdx.x == 0) out[static_cast<size_t>(t) * rows + row] = total;
    }
}

template <int kTokens>
void launch_matvec(const DeviceMatrix& m, const float* x, const ActivationBlock* blocks, float* out,
                   cudaStream_t stream) {
    const dim3 block(32, kWarpsPerBlock);
    const dim3 grid(static_cast<unsigned>((m.rows + kWarpsPerBlock - 1) / kWarpsPerBlock));
    const int rows = static_cast<int>(m.rows);
    const int columns = static_cast<int>(m.columns);
    const int sub_blocks = columns / 32;
    switch (m.type) {
        case DType::F32:
            matvec_float_kernel<float, kTokens><<<grid, block, 0, stream>>>(
                reinterpret_cast<const float*>(m.data), rows, columns, x, out);
            return;
        case DType::F16:
            matvec_float_kernel<__half, kTokens><<<grid, block, 0, stream>>>(
                reinterpret_cast<const __half*>(m.data), rows, columns, x, out);
            return;
        case DType::BF16:
            matvec_float_kernel<__nv_bfloat16, kTokens><<<grid, block, 0, stream>>>(
                reinterpret_cast<const __nv_bfloat16*>(m.data), rows, columns, x, out);
            return;
#define LLCUDA_MATVEC_CASE(NAME)                                                   \
    case DType::NAME:                                                              \
        matvec_quantized_kernel<DType::NAME, kTokens><<<grid, block, 0, stream>>>( \
            m.data, m.row_stride_bytes, rows, sub_blocks, blocks, out);            \
        return;
            LLCUDA_FOR_EACH_QUANT_TYPE(LLCUDA_MATVEC_CASE)
#undef LLCUDA_MATVEC_CASE
    }
    throw Error(fmt::format("no GPU matrix-vector kernel for {}", dtype_name(m.type)));
}

}  // namespace

size_t activation_blocks_bytes(size_t tokens, size_t columns) {
    return tokens * ((columns + 31) / 32) * sizeof(ActivationBlock);
}

void quantize_activations(const float* x, size_t tokens, size_t columns, void* blocks,
                          cudaStream_t stream) {
    if (columns % 32 != 0)
        throw Error(fmt::format("activations of {} values are not whole 32-value blocks", columns));
    const size_t total = tokens * (columns / 32);
    const dim3 block(32, 8);
    const dim3 grid(static_cast<unsigned>((total + 7) / 8));
    quantize_activations_kernel<<<grid, block, 0, stream>>>(x, columns / 32, total,
                                                            static_cast<ActivationBlock*>(blocks));
    check_launch("quantize_activations");
}

void matvec(const DeviceMatrix& weights, const float* x, const void* activation_blocks,
            size_t tokens, float* out, cudaStream_t stream) {
    const auto* blocks = static_cast<const ActivationBlock*>(activation_blocks);
    const bool quantized = dtype_traits(weights.type).block_elements > 1;
    const size_t block_columns = weights.columns / 32;
    // Powers of two cover any count up to 8, each part reading the weights once.
    size_t done = 0;
    for (const size_t part : {size_t{8}, size_t{4}, size_t{2}, size_t{1}}) {
        while (tokens - done >= part) {
            const float* part_x = x + done * weights.columns;
            const ActivationBlock* part_blocks =
                quantized ? blocks + done * block_columns : nullptr;
            float* part_out = out + done * weights.rows;
            switch (part) {
                case 8:
                    launch_matvec<8>(weights, part_x, part_blocks, part_out, stream);
                    break;
                case 4:
                    launch_matvec<4>(weights, part_x, part_blocks, part_out, stream);
                    break;
                case 2:
                    launch_matvec<2>(weights, part_x, part_blocks, part_out, stream);
                    break;
                default:
                    launch_matvec<1>(weights, part_x, part_blocks, part_out, stream);
                    break;
            }
            done += part;
        }
    }
    check_launch("matvec");
}

void check_launch(const char* what) {
    const cudaError_t error = cudaGetLastError();
    if (error != cudaSuccess) {
        throw Error(fmt::format("CUDA kernel {} failed to launch: {}: {}", what,
                                cudaGetErrorName(error), cudaGetErrorString(error)));
    }
}

}  // namespace llcuda::cuda
