#pragma once
// Matrix product of two tensors: [m, k] @ [k, n] -> [m, n], same device, same dtype. The CPU
// path computes in float; the GPU path is cuBLAS (tensor cores for F16/BF16, F32 accumulate),
// installed by code that links llcuda_cublas (install_cublas_matmul), so that the llcuda
// binary itself does not depend on cuBLAS.
#include "core/tensor.hpp"

namespace llcuda {

Tensor matmul(const Tensor& a, const Tensor& b);

using GpuMatmul = void (*)(const Tensor& a, const Tensor& b, Tensor& out);
void set_gpu_matmul(GpuMatmul implementation);

}  // namespace llcuda
