#include "backend/cuda/gpu_matmul.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "backend/cuda/cublas_library.hpp"
#include "backend/cuda/cuda_device.hpp"
#include "core/error.hpp"

namespace llcuda::cuda {
namespace {

bool is_quantized(DType type) { return dtype_traits(type).block_elements > 1; }

// F32 and BF16 weights are multiplied in float (BF16's range does not fit in F16).
bool gemm_in_float(DType type) { return type == DType::F32 || type == DType::BF16; }

}  // namespace

GpuMatmul::GpuMatmul(int device, cudaStream_t stream, size_t max_tokens, size_t max_columns,
                     const DeviceMatrix* matrices, size_t matrix_count)
    : device_(device), stream_(stream) {
    activation_blocks_ = DeviceBuffer(
        activation_blocks_bytes(std::min(max_tokens, kMaxMatvecTokens), max_columns), device);
    if (!uses_gemm(max_tokens)) return;
    require_cublas();
    half_input_ = DeviceBuffer(max_tokens * max_columns * 2, device);
    size_t scratch = 0;
    for (size_t i = 0; i < matrix_count; ++i) {
        const auto& m = matrices[i];
        if (m.type == DType::F16 || m.type == DType::F32) continue;  // used as stored
        scratch = std::max(scratch, m.rows * m.columns * (gemm_in_float(m.type) ? 4 : 2));
    }
    if (scratch > 0) weight_scratch_ = DeviceBuffer(scratch, device);
}

size_t GpuMatmul::scratch_bytes() const {
    return activation_blocks_.bytes() + half_input_.bytes() + weight_scratch_.bytes();
}

void GpuMatmul::set_input(const float* x, size_t tokens, size_t columns) {
    input_ = x;
    tokens_ = tokens;
    columns_ = columns;
    activations_ready_ = false;
    half_input_ready_ = false;
}

void GpuMatmul::multiply(const DeviceMatrix& weights, float* out) {
    if (weights.columns != columns_) {
        throw Error(fmt::format("GPU matmul: a matrix of {} columns applied to inputs of {}",
                                weights.columns, columns_));
    }
    if (!uses_gemm(tokens_)) {
        if (is_quantized(weights.type) && !activations_ready_) {
            quantize_activations(input_, tokens_, columns_, activation_blocks_.get(), stream_);
            activations_ready_ = true;
        }
        matvec(weights, input_, activation_blocks_.get(), tokens_, out, stream_);
        return;
    }
    const int m = static_cast<int>(weights.rows);
    const int n = static_cast<int>(tokens_);
    const int k = static_cast<int>(columns_);
    if (gemm_in_float(weights.type)) {
        const void* a = weights.data;
        if (weights.type == DType::BF16) {
            dequantize_rows(weights, nullptr, weights.rows, weight_scratch_.get(), false, stream_);
            a = weight_scratch_.get();
        }
        gemm(device_, stream_, m, n, k, {a, CUDA_R_32F, k, true}, {input_, CUDA_R_32F, k, false},
             out, CUDA_R_32F, m);
        return;
    }
    if (!half_input_ready_) {
        float_to_half(input_, half_input_.get(), tokens_ * columns_, stream_);
        half_input_ready_ = true;
    }
    const void* a = weights.data;
    if (weights.type != DType::F16) {
        dequantize_rows(weights, nullptr, weights.rows, weight_scratch_.get(), true, stream_);
        a = weight_scratch_.get();
    }
    gemm(device_, stream_, m, n, k, {a, CUDA_R_16F, k, true},
         {half_input_.get(), CUDA_R_16F, k, false}, out, CUDA_R_32F, m);
}

}  // namespace llcuda::cuda
