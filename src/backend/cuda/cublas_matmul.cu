#include <cublas_v2.h>
#include <fmt/format.h>

#include <map>
#include <mutex>

#include "backend/cuda/cublas_matmul.hpp"
#include "backend/cuda/cuda_check.hpp"
#include "backend/tensor_matmul.hpp"

namespace llcuda {
namespace {

void cublas_check(cublasStatus_t status, const char* what) {
    if (status != CUBLAS_STATUS_SUCCESS) {
        throw Error(fmt::format("cuBLAS {} failed: {}", what, cublasGetStatusString(status)));
    }
}

// One handle per device, created on first use and kept for the process's life.
cublasHandle_t handle_for(int device) {
    static std::mutex mutex;
    static std::map<int, cublasHandle_t> handles;
    std::lock_guard lock(mutex);
    auto& handle = handles[device];
    if (handle == nullptr) {
        CUDA_CHECK(cudaSetDevice(device));
        cublas_check(cublasCreate(&handle), "handle creation");
    }
    return handle;
}

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

// Row-major C[m,n] = A[m,k] B[k,n] is column-major C^T = B^T A^T: swap the operands.
void cublas_matmul(const Tensor& a, const Tensor& b, Tensor& out) {
    const int device = a.device().index;
    CUDA_CHECK(cudaSetDevice(device));
    const int m = static_cast<int>(a.shape()[0]);
    const int k = static_cast<int>(a.shape()[1]);
    const int n = static_cast<int>(b.shape()[1]);
    const float alpha = 1.0f, beta = 0.0f;
    const cudaDataType type = cuda_type(a.dtype());
    cublas_check(cublasGemmEx(handle_for(device), CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &alpha,
                              b.data(), type, n, a.data(), type, k, &beta, out.data(), type, n,
                              CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 "GemmEx");
    CUDA_CHECK(cudaGetLastError());
    CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace

void install_cublas_matmul() { set_gpu_matmul(cublas_matmul); }

}  // namespace llcuda
