#pragma once
// llcuda_sync_floor's measurement (decode_sync_floor.cu, CUDA) and its command line
// (decode_sync_floor_main.cpp, which finds the shape among llcuda synth's).
#include <cstddef>

// The sizes of a model shape that a decode step's bytes depend on.
struct StepShape {
    size_t dim, kv_dim, ffn, layers, vocab;
};

// Prints the floor tables for `shape` on device 0; throws llcuda::Error on CUDA errors.
void measure_sync_floor(const StepShape& shape);
