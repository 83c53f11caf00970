#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "backend/cuda/cuda_check.hpp"
#include "backend/cuda/cuda_device.hpp"

namespace llcuda {
namespace {

constexpr int kSmokeElements = 1 << 20;

// y = a * x + b with explicit rounding, so the GPU result is bit-identical to the CPU's.
__global__ void smoke_kernel(const float* x, float* y, float a, float b, int count) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count) y[i] = __fadd_rn(__fmul_rn(a, x[i]), b);
}

std::string describe(cudaError_t error) {
    return std::string(cudaGetErrorName(error)) + ": " + cudaGetErrorString(error);
}

std::string no_device_problem(cudaError_t error) {
    if (error == cudaErrorInsufficientDriver) {
        return "the NVIDIA driver is missing or older than this build's CUDA runtime needs; "
               "install or update "
               "the driver";
    }
    if (error == cudaErrorNoDevice) return "the driver reports no CUDA device; check `nvidia-smi`";
    return "no usable CUDA device (" + describe(error) +
           "); check `nvidia-smi` and that the driver is loaded";
}

// Runs the smoke kernel and compares with the CPU; returns an empty string on success.
std::string run_smoke_test(int index) {
    std::vector<float> x(kSmokeElements), expected(kSmokeElements), actual(kSmokeElements);
    uint32_t state = 12345;
    for (auto& value : x) {
        state = state * 1664525u + 1013904223u;
        value = static_cast<float>(state >> 8) / 16777216.0f - 0.5f;
    }
    const float a = 1.75f, b = -0.125f;
    for (int i = 0; i < kSmokeElements; ++i) expected[i] = a * x[i] + b;
    float *device_x = nullptr, *device_y = nullptr;
    const size_t bytes = sizeof(float) * kSmokeElements;
    cudaError_t error = cudaMalloc(&device_x, bytes);
    if (error == cudaSuccess) error = cudaMalloc(&device_y, bytes);
    if (error == cudaSuccess) error = cudaMemcpy(device_x, x.data(), bytes, cudaMemcpyHostToDevice);
    if (error == cudaSuccess) {
        smoke_kernel<<<(kSmokeElements + 255) / 256, 256>>>(device_x, device_y, a, b,
                                                            kSmokeElements);
        error = cudaGetLastError();
    }
    if (error == cudaSuccess)
        error = cudaMemcpy(actual.data(), device_y, bytes, cudaMemcpyDeviceToHost);
    cudaFree(device_x);
    cudaFree(device_y);
    if (error == cudaErrorNoKernelImageForDevice || error == cudaErrorInvalidDeviceFunction) {
        return "this build has no code that runs on this GPU (" + describe(error) + ")";
    }
    if (error != cudaSuccess)
        return "the smoke kernel failed on GPU " + std::to_string(index) + ": " + describe(error);
    int mismatches = 0;
    for (int i = 0; i < kSmokeElements; ++i) mismatches += actual[i] != expected[i];
    if (mismatches > 0) {
        return "the smoke kernel ran but " + std::to_string(mismatches) + " of " +
               std::to_string(kSmokeElements) +
               " results differ from the CPU; the GPU or driver is faulty";
    }
    return "";
}

}  // namespace

CudaSystemInfo query_cuda_system() {
    CudaSystemInfo info;
    info.built_with_cuda = true;
    cudaDriverGetVersion(&info.driver_version);
    cudaRuntimeGetVersion(&info.runtime_version);
    const cudaError_t error = cudaGetDeviceCount(&info.device_count);
    if (error != cudaSuccess) {
        info.device_count = 0;
        info.problem = no_device_problem(error);
    } else if (info.device_count == 0) {
        info.problem = "the driver reports no CUDA device; check `nvidia-smi`";
    }
    return info;
}

CudaDeviceProperties cuda_device_properties(int index) {
    const auto system = query_cuda_system();
    if (!system.problem.empty()) throw Error(system.problem);
    if (index < 0 || index >= system.device_count) {
        throw Error("there is no GPU " + std::to_string(index) + "; this machine has " +
                    std::to_string(system.device_count));
    }
    cudaDeviceProp properties{};
    CUDA_CHECK(cudaGetDeviceProperties(&properties, index));
    return {properties.name, properties.major, properties.minor, properties.totalGlobalMem,
            properties.multiProcessorCount};
}

CudaDeviceProbe probe_cuda_device(int index) {
    CudaDeviceProbe probe;
    int count = 0;
    if (const cudaError_t error = cudaGetDeviceCount(&count); error != cudaSuccess || count == 0) {
        probe.problem = no_device_problem(error == cudaSuccess ? cudaErrorNoDevice : error);
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
    probe.found = true;
    probe.name = properties.name;
    probe.compute_major = properties.major;
    probe.compute_minor = properties.minor;
    probe.multiprocessors = properties.multiProcessorCount;
    if (const auto error = cudaSetDevice(index); error != cudaSuccess) {
        probe.problem = "cannot select GPU " + std::to_string(index) + ": " + describe(error);
        return probe;
    }
    cudaMemGetInfo(&probe.free_bytes, &probe.total_bytes);
    probe.smoke_test_detail = run_smoke_test(index);
    probe.smoke_test_passed = probe.smoke_test_detail.empty();
    if (!probe.smoke_test_passed) {
        probe.problem = probe.smoke_test_detail;
        return probe;
    }
    probe.smoke_test_detail =
        "y = a*x + b on " + std::to_string(kSmokeElements) + " floats, bit-identical to the CPU";
    probe.usable = true;
    return probe;
}

CudaMemoryInfo cuda_memory_info(int index) {
    CUDA_CHECK(cudaSetDevice(index));
    CudaMemoryInfo info;
    CUDA_CHECK(cudaMemGetInfo(&info.free_bytes, &info.total_bytes));
    return info;
}

double measure_copy_bandwidth(int index, size_t bytes) {
    CUDA_CHECK(cudaSetDevice(index));
    void* source = nullptr;
    void* destination = nullptr;
    CUDA_CHECK(cudaMalloc(&source, bytes));
    const cudaError_t allocated = cudaMalloc(&destination, bytes);
    if (allocated != cudaSuccess) cudaFree(source);
    CUDA_CHECK(allocated);
    cudaEvent_t start, stop;
    CUDA_CHECK(cudaEventCreate(&start));
    CUDA_CHECK(cudaEventCreate(&stop));
    float best_ms = 0.0f;
    for (int i = 0; i < 6; ++i) {
        CUDA_CHECK(cudaEventRecord(start));
        CUDA_CHECK(cudaMemcpy(destination, source, bytes, cudaMemcpyDeviceToDevice));
        CUDA_CHECK(cudaEventRecord(stop));
        CUDA_CHECK(cudaEventSynchronize(stop));
        float ms = 0.0f;
        CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
        if (i > 0 && (best_ms == 0.0f || ms < best_ms)) best_ms = ms;  // the first one warms up
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    cudaFree(source);
    cudaFree(destination);
    return 2.0 * static_cast<double>(bytes) / (best_ms / 1000.0);
}

}  // namespace llcuda
