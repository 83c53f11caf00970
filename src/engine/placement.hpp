#pragma once
// Where the layers of a model run, decided from --device, --devices, --gpu-layers,
// --tensor-split and --gpu-memory before anything is loaded: the last N layers on the GPUs
// (split over them, in list order, by engine/gpu_plan), the rest on the CPU. Every refusal says
// why and what to do (no silent CPU run when the GPU was asked for); `auto` says what it picked.
#include <cstddef>
#include <string>
#include <vector>

#include "core/dtype.hpp"
#include "core/gguf/gguf_file.hpp"
#include "core/tensor.hpp"
#include "model/gpu_span.hpp"
#include "model/model_spec.hpp"

namespace llcuda {

struct PlacementRequest {
    std::string device;       // "", "cpu", "cuda", "cuda:N"
    std::string gpu_layers;   // "", "all", "auto" or a count
    size_t context_size = 0;  // per sequence
    size_t sequences = 1;     // each holds its own KV cache of context_size positions
    DType kv_type = DType::F16;
    std::string devices;       // "cuda:0,cuda:1"; empty: cuda:N alone, or every GPU for "cuda"
    std::string tensor_split;  // "3,1": proportions of the GPU layers per device
    std::string gpu_memory;    // "4GiB": the most llcuda may take on each GPU; empty: no cap
    // Where gpu_memory came from, for messages: "--gpu-memory" or "LLCUDA_GPU_MEMORY".
    std::string gpu_memory_knob = "--gpu-memory";
};

struct Placement {
    TensorDevice device;  // the first GPU segment's device (cpu when there are none)
    size_t gpu_layers = 0;
    std::vector<GpuSpan> spans;  // the GPU segments in layer order, after the CPU layers
    std::string note;            // what was decided and why, for --verbose and summaries
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

// --kv-type: "auto" (F32 on CPU layers, F16 on GPU layers) or one type for every layer, "f32"
// (CPU layers only), "f16" or "q8_0" (case-insensitive); throws an Error naming --kv-type
// otherwise.
struct KvTypes {
    DType cpu = DType::F32;
    DType gpu = DType::F16;
};
KvTypes parse_kv_type(const std::string& text);

}  // namespace llcuda
