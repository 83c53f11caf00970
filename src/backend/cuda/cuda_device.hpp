#pragma once
// What the CUDA runtime says about one GPU. Plain C++ so that code built without nvcc can
// include it; the implementation lives in cuda_device.cu.
#include <cstddef>
#include <string>

namespace llcuda {

struct CudaDeviceProbe {
    bool usable = false;
    std::string problem;  // why not usable, and what to do about it
    std::string name;
    int compute_major = 0;
    int compute_minor = 0;
    size_t total_bytes = 0;
    size_t free_bytes = 0;
};

// Checks driver, device count, the device itself, and that this build has machine code for
// its architecture (by launching a tiny kernel).
CudaDeviceProbe probe_cuda_device(int index);

}  // namespace llcuda
