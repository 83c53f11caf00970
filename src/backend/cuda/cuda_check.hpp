#pragma once
// CUDA_CHECK: every CUDA runtime call at the GPU boundary goes through it, so a failure becomes
// an llcuda::Error naming the call, the place and the CUDA error.
#include <cuda_runtime.h>

#include <string>

#include "core/error.hpp"

#define LLCUDA_STRINGIFY_DETAIL(x) #x
#define LLCUDA_STRINGIFY(x) LLCUDA_STRINGIFY_DETAIL(x)

#define CUDA_CHECK(call)                                                                \
    do {                                                                                \
        const cudaError_t llcuda_cuda_error = (call);                                   \
        if (llcuda_cuda_error != cudaSuccess) {                                         \
            throw ::llcuda::Error(std::string("CUDA error in ") + #call +               \
                                  " at " __FILE__ ":" LLCUDA_STRINGIFY(__LINE__) ": " + \
                                  cudaGetErrorName(llcuda_cuda_error) + ": " +          \
                                  cudaGetErrorString(llcuda_cuda_error));               \
        }                                                                               \
    } while (0)
