#include "backend/cuda/tensor_gemm.hpp"

#include "backend/cuda/cublas_library.hpp"
#include "backend/cuda/cuda_check.hpp"

namespace llcuda {
namespace {

cudaDataType cuda_type(DType type) {
    switch (type) {
        case DType::F16:
            return CUDA_R_16F;
        case DType::BF16:
            return CUDA_R_16BF;
        default:
            return CUDA_R_32F;
    }
}

}  // namespace

// Row-major C[m,n] = A[m,k] B[k,n] is column-major C^T = B^T A^T: swap the operands.
void cuda_tensor_matmul(const Tensor& a, const Tensor& b, Tensor& out) {
    const int device = a.device().index;
    const int m = static_cast<int>(a.shape()[0]);
    const int k = static_cast<int>(a.shape()[1]);
    const int n = static_cast<int>(b.shape()[1]);
    const cudaDataType type = cuda_type(a.dtype());
    cuda::gemm(device, nullptr, n, m, k, {b.data(), type, n, false}, {a.data(), type, k, false},
               out.data(), type, n);
    CUDA_CHECK(cudaGetLastError());
    CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace llcuda
