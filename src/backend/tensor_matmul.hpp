#pragma once
// Matrix product of two tensors: [m, k] @ [k, n] -> [m, n], same device, same dtype. The CPU
// path computes in float; the GPU path is cuBLAS (tensor cores for F16/BF16, F32 accumulate).
#include "core/tensor.hpp"

namespace llcuda {

Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace llcuda
