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

    // Where the kernel producing the next input may write its int8 blocks (rms_norm and
    // swiglu_quantize can), saving a launch; null when `tokens` go through the GEMM instead.
    void* activation_blocks_for(size_t tokens) const;
    // x: [tokens][columns] floats on the device, valid until the next set_input(). With
    // blocks_written, activation_blocks_for(tokens) already holds x's int8 blocks.
    void set_input(const float* x, size_t tokens, size_t columns, bool blocks_written = false);
    // out: [tokens][weights.rows], or added to it with `accumulate` (a residual add). `next`:
    // the matrices of the next product, which the matrix-vector path starts fetching.
    void multiply(const DeviceMatrix& weights, float* out, bool accumulate = false,
                  const NextWeights& next = {});
    // Each job's matrix times the input; neighbours of one quantized type share a launch. With
    // rope_store (matrix-vector path only), the products also do rope_and_store_kv.
    void multiply_each(const MatvecJob* jobs, size_t count, const NextWeights& next = {},
                       const QkvRopeStore* rope_store = nullptr);

    static bool uses_gemm(size_t tokens) { return tokens > kMaxMatvecTokens; }
    size_t scratch_bytes() const;

  private:
    void check_width(const DeviceMatrix& weights) const;
    // Quantizes the input for `weights` unless it is done or not needed.
    void prepare_activations(const DeviceMatrix& weights);

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
