#pragma once
// Where the layers of a model run, decided from --device and --gpu-layers before anything is
// loaded: the last N layers on the GPU, the rest on the CPU. Every refusal says why and what to
// do (no silent CPU run when the GPU was asked for); `auto` says what it picked.
#include <cstddef>
#include <string>

#include "core/dtype.hpp"
#include "core/gguf/gguf_file.hpp"
#include "core/tensor.hpp"
#include "model/model_spec.hpp"

namespace llcuda {

struct PlacementRequest {
    std::string device;       // "", "cpu", "cuda", "cuda:N"
    std::string gpu_layers;   // "", "all", "auto" or a count
    size_t context_size = 0;  // per sequence
    size_t sequences = 1;     // each holds its own KV cache of context_size positions
    DType kv_type = DType::F16;
};

struct Placement {
    TensorDevice device;  // where the GPU layers go (cpu when there are none)
    size_t gpu_layers = 0;
    std::string note;  // what was decided and why, for --verbose and summaries
};

// The parsed --gpu-layers value: all, auto, or a count.
struct GpuLayersRequest {
    enum class Kind { Unspecified, All, Auto, Count } kind = Kind::Unspecified;
    size_t count = 0;
};
GpuLayersRequest parse_gpu_layers(const std::string& text);

// Throws llcuda::Error for contradictory requests and for CUDA that cannot be used or does not
// have the memory.
Placement decide_placement(const PlacementRequest& request, const GgufFile& file,
                           const ModelSpec& hparams);

// "f16" or "q8_0" (case-insensitive) to F16 or Q8_0; throws otherwise.
DType parse_kv_type(const std::string& text);

}  // namespace llcuda
