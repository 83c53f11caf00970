#pragma once
// GPU memory as plain C++ sees it (no CUDA headers needed): allocation, copies and fills on a
// given device. Builds without CUDA get versions that throw a clear error.
#include <cstddef>

namespace llcuda {

void* cuda_allocate(size_t bytes, int device);
void cuda_release(void* pointer, int device) noexcept;
void cuda_copy_to_device(void* device_destination, const void* host_source, size_t bytes,
                         int device);
void cuda_copy_to_host(void* host_destination, const void* device_source, size_t bytes, int device);
void cuda_copy_between_devices(void* destination, const void* source, size_t bytes, int device);
void cuda_fill_zero(void* device_pointer, size_t bytes, int device);

}  // namespace llcuda
