#pragma once
// Kernels of a decode step overlap their start with the end of the kernel before them
// (Hopper's programmatic dependent launch): a kernel launched by launch_kernel may be scheduled
// while its predecessor still runs, and begin_after_previous_kernel() holds it until the
// predecessor has finished and its writes are visible. A step has hundreds of small kernels,
// so the launch latency hidden this way adds up; matrix-vector kernels also fetch their
// weights, which no kernel writes, before they wait. Every kernel calls
// begin_after_previous_kernel() before reading what an earlier kernel wrote; on GPUs before
// Hopper, and for kernels launched the usual way, it does nothing.
#include <cuda_runtime.h>

namespace llcuda::cuda {

__device__ __forceinline__ void begin_after_previous_kernel() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
    // The next kernel may now be scheduled: it waits in turn for this one to finish.
    asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

// Whether launches overlap: the current device runs programmatic dependent launches (compute
// capability 9.0+) and set_kernel_overlap(false) was not called on this thread.
bool overlapped_launches_supported();

// kernel<<<grid, block, shared_bytes, stream>>>(args...), allowed to overlap the previous
// kernel on the stream. Failures show up in check_launch() as for <<<>>> launches.
template <typename... Params, typename... Args>
void launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes,
                   cudaStream_t stream, Args... args) {
    cudaLaunchAttribute attribute{};
    attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attribute.val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t config{};
    config.gridDim = grid;
    config.blockDim = block;
    config.dynamicSmemBytes = shared_bytes;
    config.stream = stream;
    config.attrs = &attribute;
    config.numAttrs = overlapped_launches_supported() ? 1 : 0;
    (void)cudaLaunchKernelEx(&config, kernel, static_cast<Params>(args)...);
}

}  // namespace llcuda::cuda
