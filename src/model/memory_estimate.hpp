#pragma once
// The memory a load of a model needs: weights as stored, KV cache at a context size, and the
// scratch buffers of one prompt batch.
#include <cstdint>

#include "core/dtype.hpp"
#include "model/model_spec.hpp"

namespace llcuda {

struct MemoryEstimate {
    uint64_t weight_bytes = 0;
    uint64_t kv_cache_bytes = 0;                // sliding-window layers keep a ring (KvCache)
    uint64_t kv_cache_without_rings_bytes = 0;  // what every layer keeping all positions takes
    size_t window_layers = 0;
    uint64_t scratch_bytes = 0;
    uint64_t total() const { return weight_bytes + kv_cache_bytes + scratch_bytes; }
};

// The KV cache in `kv_type` (the CPU layers' default F32, or F16 or Q8_0: --kv-type).
MemoryEstimate estimate_memory(const GgufFile& file, const ModelSpec& hparams, size_t context_size,
                               DType kv_type = DType::F32);

}  // namespace llcuda

namespace llcuda {

// How many transformer layers fit in `free_bytes` of GPU memory, with the KV cache in
// `kv_type` (F16 or Q8_0) and the output layer, the embedding table and the scratch of a
// 512-token batch on the GPU, after a fixed reserve for the CUDA context and cuBLAS. A segment
// without the output head (`holds_output` false: not the last of several GPU segments) counts
// only the embedding table (which a first segment looks tokens up in), its scratch and the
// reserve.
struct LayerFit {
    size_t layers_that_fit = 0;
    size_t total_layers = 0;
    uint64_t bytes_per_layer = 0;     // largest layer: weights + KV cache
    uint64_t kv_bytes_per_layer = 0;  // of bytes_per_layer, the KV cache
    uint64_t fixed_bytes = 0;         // output layer, norms, scratch, reserve
    uint64_t bytes_for_all = 0;
};

constexpr uint64_t kGpuReserveBytes = uint64_t{512} << 20;

LayerFit fit_layers(const GgufFile& file, const ModelSpec& hparams, size_t context_size,
                    uint64_t free_bytes, DType kv_type = DType::F16, bool holds_output = true);

// GPU scratch: activations of a 512-token batch, the largest layer matrix expanded to F16 for
// the tensor-core GEMM, and the logits.
uint64_t gpu_scratch_bytes(const GgufFile& file, const ModelSpec& hparams);

// What one decode step reads when layers first_gpu_layer.. and the output head are on the GPU:
// their weights (one embedding row is negligible, as is the KV cache at short contexts).
uint64_t gpu_decode_bytes(const GgufFile& file, size_t first_gpu_layer);

}  // namespace llcuda
