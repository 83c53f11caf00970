#pragma once
// Turns a --device request into a device or an error that says why it cannot be used. Never
// falls back silently: asking for CUDA and not getting it is an error.
#include "backend/cuda/cuda_device.hpp"
#include "core/tensor.hpp"

namespace llcuda {

// Throws llcuda::Error unless the requested device can run the model (for CUDA: driver, device,
// a kernel image for its architecture, and cuBLAS). Returns the probe (free memory) for CUDA.
CudaDeviceProbe check_device_usable(const TensorDevice& device);

}  // namespace llcuda
