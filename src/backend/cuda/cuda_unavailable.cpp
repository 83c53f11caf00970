// What a build without CUDA answers wherever the GPU is asked for: a clear reason, never a
// silent CPU fallback.
#include "backend/cuda/cuda_device.hpp"
#include "backend/cuda/device_memory.hpp"
#include "backend/cuda/tensor_gemm.hpp"
#include "core/error.hpp"

namespace llcuda {
namespace {

constexpr const char* kBuiltWithoutCuda =
    "this llcuda was built without CUDA (nvcc was not found at configure time); install the CUDA "
    "toolkit and "
    "rebuild, or use --device cpu";

[[noreturn]] void unavailable() { throw Error(kBuiltWithoutCuda); }

}  // namespace

CudaSystemInfo query_cuda_system() {
    CudaSystemInfo info;
    info.problem = kBuiltWithoutCuda;
    return info;
}

CudaDeviceProbe probe_cuda_device(int) {
    CudaDeviceProbe probe;
    probe.problem = kBuiltWithoutCuda;
    return probe;
}

CudaDeviceProperties cuda_device_properties(int) { unavailable(); }
void require_cublas() { unavailable(); }
CudaMemoryInfo cuda_memory_info(int) { unavailable(); }
double measure_copy_bandwidth(int, size_t) { unavailable(); }

void* cuda_allocate(size_t, int) { unavailable(); }
void cuda_release(void*, int) noexcept {}
void cuda_copy_to_device(void*, const void*, size_t, int) { unavailable(); }
void cuda_copy_to_host(void*, const void*, size_t, int) { unavailable(); }
void cuda_copy_between_devices(void*, const void*, size_t, int) { unavailable(); }
void cuda_fill_zero(void*, size_t, int) { unavailable(); }
void cuda_tensor_matmul(const Tensor&, const Tensor&, Tensor&) { unavailable(); }

}  // namespace llcuda
