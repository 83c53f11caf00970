#include <fmt/format.h>

#include "backend/cuda/cuda_check.hpp"
#include "backend/cuda/cuda_device.hpp"
#include "backend/cuda/device_memory.hpp"

namespace llcuda {

void* cuda_allocate(size_t bytes, int device) {
    if (const cudaError_t error = cudaSetDevice(device); error != cudaSuccess) {
        // The first CUDA call of a Python Tensor(device="cuda"): no driver or no such GPU is
        // said as doctor and --device say it, not as a raw cudaErrorInsufficientDriver.
        const auto system = query_cuda_system();
        if (!system.problem.empty())
            throw Error(fmt::format("cannot use cuda:{}: {}", device, system.problem));
        if (device < 0 || device >= system.device_count)
            throw Error(fmt::format("there is no GPU {}; this machine has {}", device,
                                    system.device_count));
        CUDA_CHECK(error);
    }
    void* pointer = nullptr;
    const cudaError_t error = cudaMalloc(&pointer, bytes == 0 ? 1 : bytes);
    if (error == cudaErrorMemoryAllocation) {
        size_t free_bytes = 0, total_bytes = 0;
        cudaMemGetInfo(&free_bytes, &total_bytes);
        throw Error(fmt::format("out of GPU memory on cuda:{}: {} bytes asked, {} of {} free",
                                device, bytes, free_bytes, total_bytes));
    }
    CUDA_CHECK(error);
    return pointer;
}

void cuda_release(void* pointer, int device) noexcept {
    if (pointer == nullptr) return;
    cudaSetDevice(device);
    cudaFree(pointer);
}

void cuda_copy_to_device(void* device_destination, const void* host_source, size_t bytes,
                         int device) {
    CUDA_CHECK(cudaSetDevice(device));
    CUDA_CHECK(cudaMemcpy(device_destination, host_source, bytes, cudaMemcpyHostToDevice));
}

void cuda_copy_to_host(void* host_destination, const void* device_source, size_t bytes,
                       int device) {
    CUDA_CHECK(cudaSetDevice(device));
    CUDA_CHECK(cudaMemcpy(host_destination, device_source, bytes, cudaMemcpyDeviceToHost));
}

void cuda_copy_between_devices(void* destination, const void* source, size_t bytes, int device) {
    CUDA_CHECK(cudaSetDevice(device));
    CUDA_CHECK(cudaMemcpy(destination, source, bytes, cudaMemcpyDefault));
}

void cuda_fill_zero(void* device_pointer, size_t bytes, int device) {
    CUDA_CHECK(cudaSetDevice(device));
    CUDA_CHECK(cudaMemset(device_pointer, 0, bytes));
}

}  // namespace llcuda
