#pragma once
// Weight matrix times activations on the GPU, choosing the path by batch size: up to 8 tokens
// use the matrix-vector kernels (int8 dot products on quantized blocks; one read of the
// weights), larger batches expand the weights to F16 in a scratch buffer and run a tensor-core
// GEMM (cuBLAS, float accumulation). One input is prepared once for several matrices (Q, K and
// V share theirs).
#include <cuda_runtime_api.h>

#include <cstddef>

#include "backend/cuda/cuda_ops.hpp"
#include "backend/cuda/device_buffer.hpp"

namespace llcuda::cuda {

class GpuMatmul {
  public:
    // Sized for inputs of up to max_tokens x max_columns and for GEMMs on any of `matrices`.
    GpuMatmul(int device, cudaStream_t stream, size_t max_tokens, size_t max_columns,
              const DeviceMatrix* matrices, size_t matrix_count);

    // x: [tokens][columns] floats on the device, valid until the next set_input().
    void set_input(const float* x, size_t tokens, size_t columns);
    // out: [tokens][weights.rows].
    void multiply(const DeviceMatrix& weights, float* out);

    static bool uses_gemm(size_t tokens) { return tokens > kMaxMatvecTokens; }
    size_t scratch_bytes() const;

  private:
    int device_;
    cudaStream_t stream_;
    const float* input_ = nullptr;
    size_t tokens_ = 0;
    size_t columns_ = 0;
    bool activations_ready_ = false;
    bool half_input_ready_ = false;
    DeviceBuffer activation_blocks_;
    DeviceBuffer half_input_;
    DeviceBuffer weight_scratch_;
};

}  // namespace llcuda::cuda
