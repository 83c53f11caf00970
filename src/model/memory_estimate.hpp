#pragma once
// The memory a load of a model needs: weights as stored, KV cache at a context size, and the
// scratch buffers of one prompt batch.
#include <cstdint>

#include "model/llama_hparams.hpp"

namespace llcuda {

struct MemoryEstimate {
    uint64_t weight_bytes = 0;
    uint64_t kv_cache_bytes = 0;
    uint64_t scratch_bytes = 0;
    uint64_t total() const { return weight_bytes + kv_cache_bytes + scratch_bytes; }
};

MemoryEstimate estimate_memory(const GgufFile& file, const LlamaHparams& hparams,
                               size_t context_size);

}  // namespace llcuda
