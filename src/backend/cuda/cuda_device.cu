#include <cuda_runtime.h>

#include <string>

#include "backend/cuda/cuda_device.hpp"

namespace llcuda {
namespace {

__global__ void smoke_kernel(int* value) { *value = 42; }

std::string describe(cudaError_t error) {
    return std::string(cudaGetErrorName(error)) + ": " + cudaGetErrorString(error);
}

}  // namespace

CudaDeviceProbe probe_cuda_device(int index) {
    CudaDeviceProbe probe;
    int count = 0;
    const cudaError_t count_error = cudaGetDeviceCount(&count);
    if (count_error == cudaErrorInsufficientDriver || count_error == cudaErrorNoDevice ||
        count_error != cudaSuccess) {
        probe.problem =
            count_error == cudaErrorInsufficientDriver
                ? "the NVIDIA driver is missing or older than this build's CUDA runtime "
                  "needs; install or update the driver"
                : "no usable CUDA device (" + describe(count_error) +
                      "); check `nvidia-smi` and that the driver is loaded";
        return probe;
    }
    if (index < 0 || index >= count) {
        probe.problem = "there is no GPU " + std::to_string(index) + "; this machine has " +
                        std::to_string(count);
        return probe;
    }
    cudaDeviceProp properties{};
    if (const auto error = cudaGetDeviceProperties(&properties, index); error != cudaSuccess) {
        probe.problem =
            "cannot read the properties of GPU " + std::to_string(index) + ": " + describe(error);
        return probe;
    }
    probe.name = properties.name;
    probe.compute_major = properties.major;
    probe.compute_minor = properties.minor;
    if (const auto error = cudaSetDevice(index); error != cudaSuccess) {
        probe.problem = "cannot select GPU " + std::to_string(index) + ": " + describe(error);
        return probe;
    }
    cudaMemGetInfo(&probe.free_bytes, &probe.total_bytes);
    int* value = nullptr;
    if (const auto error = cudaMalloc(&value, sizeof(int)); error != cudaSuccess) {
        probe.problem =
            "cannot allocate memory on GPU " + std::to_string(index) + ": " + describe(error);
        return probe;
    }
    smoke_kernel<<<1, 1>>>(value);
    cudaError_t error = cudaGetLastError();
    int host_value = 0;
    if (error == cudaSuccess)
        error = cudaMemcpy(&host_value, value, sizeof(int), cudaMemcpyDeviceToHost);
    cudaFree(value);
    if (error == cudaErrorNoKernelImageForDevice || error == cudaErrorInvalidDeviceFunction) {
        probe.problem = "this build has no code for compute capability " +
                        std::to_string(properties.major) + "." + std::to_string(properties.minor) +
                        "; rebuild with -DCMAKE_CUDA_ARCHITECTURES=" +
                        std::to_string(properties.major * 10 + properties.minor);
        return probe;
    }
    if (error != cudaSuccess || host_value != 42) {
        probe.problem =
            "a test kernel failed on GPU " + std::to_string(index) + ": " + describe(error);
        return probe;
    }
    probe.usable = true;
    return probe;
}

}  // namespace llcuda
