#include "backend/cuda/gpu_matmul.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "backend/cuda/cublas_library.hpp"
#include "backend/cuda/cuda_device.hpp"
#include "core/error.hpp"

namespace llcuda::cuda {
namespace {

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

void* GpuMatmul::activation_blocks_for(size_t tokens) const {
    return uses_gemm(tokens) ? nullptr : activation_blocks_.get();
}

void GpuMatmul::set_input(const float* x, size_t tokens, size_t columns, bool blocks_written) {
    input_ = x;
    tokens_ = tokens;
    columns_ = columns;
    activations_ready_ = blocks_written && !uses_gemm(tokens);
    half_input_ready_ = false;
}

void GpuMatmul::check_width(const DeviceMatrix& weights) const {
    if (weights.columns != columns_) {
        throw Error(fmt::format("GPU matmul: a matrix of {} columns applied to inputs of {}",
                                weights.columns, columns_));
    }
}

void GpuMatmul::prepare_activations(const DeviceMatrix& weights) {
    if (is_quantized(weights.type) && !activations_ready_) {
        quantize_activations(input_, tokens_, columns_, activation_blocks_.get(), stream_);
        activations_ready_ = true;
    }
}

void GpuMatmul::multiply_each(const MatvecJob* jobs, size_t count, const NextWeights& next,
                              const QkvRopeStore* rope_store) {
    if (rope_store != nullptr) {
        if (uses_gemm(tokens_))
            throw Error("RoPE and the KV store in the products need the matrix-vector path");
        check_width(*jobs[0].weights);
        prepare_activations(*jobs[0].weights);
        matvec_group(jobs, count, input_, activation_blocks_.get(), tokens_, false, stream_, next,
                     rope_store);
        return;
    }
    if (uses_gemm(tokens_)) {
        for (size_t i = 0; i < count; ++i) multiply(*jobs[i].weights, jobs[i].out);
        return;
    }
    for (size_t begin = 0; begin < count;) {
        const DeviceMatrix& first = *jobs[begin].weights;
        check_width(first);
        size_t end = begin + 1;
        // Quantized matrices share launches where the kernels allow (matvec_group decides).
        while (end < count && end - begin < kMaxMatvecGroup && is_quantized(first.type) &&
               is_quantized(jobs[end].weights->type))
            ++end;
        prepare_activations(first);
        NextWeights after = next;
        if (end < count) {  // a launch of this call follows
            after = {};
            for (size_t i = end; i < count && after.count < kMaxMatvecGroup; ++i)
                after.matrices[after.count++] = jobs[i].weights;
        }
        matvec_group(jobs + begin, end - begin, input_, activation_blocks_.get(), tokens_, false,
                     stream_, after);
        begin = end;
    }
}

void GpuMatmul::multiply(const DeviceMatrix& weights, float* out, bool accumulate,
                         const NextWeights& next) {
    check_width(weights);
    if (!uses_gemm(tokens_)) {
        prepare_activations(weights);
        matvec(weights, input_, activation_blocks_.get(), tokens_, out, stream_, accumulate, next);
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
             out, CUDA_R_32F, m, accumulate);
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
         {half_input_.get(), CUDA_R_16F, k, false}, out, CUDA_R_32F, m, accumulate);
}

}  // namespace llcuda::cuda
