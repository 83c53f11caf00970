#pragma once
// The machine's memory read bandwidth, measured: the bound a CPU decode step reads its weights
// against (every weight byte once per token), as the device-to-device copy is on the GPU.
#include <cstddef>

namespace llcuda {

struct MemoryReadBandwidth {
    double bytes_per_second = 0;  // the best of the passes
    size_t threads = 0;
    size_t buffer_bytes = 0;
};

// `threads` threads each read their share of one buffer far larger than the caches, several
// times; the best pass counts (a pass slowed by another process says nothing about the
// memory). The buffer is min(`buffer_bytes`, an eighth of the available memory).
MemoryReadBandwidth measure_memory_read_bandwidth(size_t threads,
                                                  size_t buffer_bytes = size_t{512} << 20);

}  // namespace llcuda
