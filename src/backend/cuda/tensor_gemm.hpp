#pragma once
// The GPU half of matmul(Tensor, Tensor): cuBLAS GEMM with float accumulation (tensor cores for
// F16/BF16). Builds without CUDA get a version that throws.
#include "core/tensor.hpp"

namespace llcuda {

void cuda_tensor_matmul(const Tensor& a, const Tensor& b, Tensor& out);

}  // namespace llcuda
