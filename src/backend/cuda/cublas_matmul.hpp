#pragma once
// Installs cuBLAS as the GPU implementation of matmul() (see backend/tensor_matmul.hpp).

namespace llcuda {

void install_cublas_matmul();

}  // namespace llcuda
