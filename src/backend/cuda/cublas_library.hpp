#pragma once
// cuBLAS, loaded at run time with dlopen so that the llcuda binary starts on machines without
// the CUDA toolkit; it is needed only for tensor-core GEMMs (prompt processing, Python tensors).
// When it cannot be loaded, the error names the library and how to provide it.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

namespace llcuda::cuda {

struct GemmOperand {
    const void* data = nullptr;
    cudaDataType type = CUDA_R_32F;
    int leading_dimension = 0;
    bool transposed = false;
};

// Column-major C[m,n] = op(A)[m,k] op(B)[k,n] (+ C with `accumulate`), accumulated in float, on
// `stream` of `device`.
void gemm(int device, cudaStream_t stream, int m, int n, int k, const GemmOperand& a,
          const GemmOperand& b, void* c, cudaDataType c_type, int ldc, bool accumulate = false);

}  // namespace llcuda::cuda
