#pragma once
// What the CUDA runtime says about one GPU. Plain C++ so that code built without nvcc can
// include it; the implementation lives in cuda_device.cu.
#include <cstddef>
#include <string>

namespace llcuda {

struct CudaDeviceProbe {
    bool usable = false;
    bool found = false;   // the device exists (it may still be unusable)
    std::string problem;  // why not usable, and what to do about it
    std::string name;
    int compute_major = 0;
    int compute_minor = 0;
    size_t total_bytes = 0;
    size_t free_bytes = 0;
    int multiprocessors = 0;
    bool smoke_test_passed = false;
    std::string smoke_test_detail;
};

struct CudaSystemInfo {
    bool built_with_cuda = false;
    int driver_version = 0;   // CUDA version the driver supports, e.g. 13000
    int runtime_version = 0;  // CUDA runtime this build links, e.g. 13000
    int device_count = 0;
    std::string problem;  // why no device can be used at all
};

CudaSystemInfo query_cuda_system();

struct CudaDeviceProperties {
    std::string name;
    int compute_major = 0;
    int compute_minor = 0;
    size_t total_bytes = 0;
    int multiprocessors = 0;
};

// Cheap (no kernel launch); throws llcuda::Error for a device that does not exist.
CudaDeviceProperties cuda_device_properties(int index);

// Checks driver, device count, the device itself, and that this build runs on it: a smoke
// kernel computes on random data and its result is compared with the CPU's.
CudaDeviceProbe probe_cuda_device(int index);

struct CudaMemoryInfo {
    size_t free_bytes = 0;
    size_t total_bytes = 0;
};
CudaMemoryInfo cuda_memory_info(int index);

// Device-to-device copy bandwidth in bytes per second, counting the bytes read and the bytes
// written (the memory traffic), best of several copies of `bytes`.
double measure_copy_bandwidth(int index, size_t bytes);

// Throws llcuda::Error when cuBLAS (loaded at run time) cannot be used, saying how to fix it.
void require_cublas();

}  // namespace llcuda
