#include <array>
#include <atomic>

#include "backend/cuda/cuda_ops.hpp"
#include "backend/cuda/kernels/kernel_launch.cuh"

namespace llcuda::cuda {
namespace {

thread_local bool overlap_allowed = true;

}  // namespace

void set_kernel_overlap(bool allowed) { overlap_allowed = allowed; }

bool overlapped_launches_supported() {
    if (!overlap_allowed) return false;
    // By device: 0 not asked yet, 1 no, 2 yes.
    static std::array<std::atomic<int>, 64> known{};
    int device = 0;
    if (cudaGetDevice(&device) != cudaSuccess || device < 0 ||
        device >= static_cast<int>(known.size()))
        return false;
    int state = known[device].load();
    if (state == 0) {
        int major = 0;
        const bool asked = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor,
                                                  device) == cudaSuccess;
        state = asked && major >= 9 ? 2 : 1;
        known[device].store(state);
    }
    return state == 2;
}

}  // namespace llcuda::cuda
