#pragma once
// One GPU segment of a model's layers. A placement is the CPU layers first (0 up to the first
// span's first_layer), then one span per segment in layer order, each with its own weights, KV
// cache, CUDA graphs and stream; the segment that ends the model also holds the output head.
// Two spans may name the same device (the hand-off path, testable on one GPU).
#include <cstddef>

namespace llcuda {

struct GpuSpan {
    int device = 0;  // CUDA device index
    size_t first_layer = 0;
    size_t end_layer = 0;  // one past the last layer
    size_t layers() const { return end_layer - first_layer; }
};

}  // namespace llcuda
