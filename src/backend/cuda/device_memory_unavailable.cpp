// GPU memory functions of a build without CUDA: each says so.
#include "backend/cuda/device_memory.hpp"
#include "core/error.hpp"

namespace llcuda {
namespace {
[[noreturn]] void unavailable() {
    throw Error(
        "this llcuda was built without CUDA; install the CUDA toolkit and rebuild to use GPU "
        "tensors");
}
}  // namespace

void* cuda_allocate(size_t, int) { unavailable(); }
void cuda_release(void*, int) noexcept {}
void cuda_copy_to_device(void*, const void*, size_t, int) { unavailable(); }
void cuda_copy_to_host(void*, const void*, size_t, int) { unavailable(); }
void cuda_copy_between_devices(void*, const void*, size_t, int) { unavailable(); }
void cuda_fill_zero(void*, size_t, int) { unavailable(); }

}  // namespace llcuda
