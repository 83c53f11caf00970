// Builds without CUDA: device selection refuses CUDA before this is reached; if it is, say so.
#include "core/error.hpp"
#include "model/llama_gpu_layers.hpp"

namespace llcuda {

struct LlamaGpuLayers::Impl {};

LlamaGpuLayers::LlamaGpuLayers(const LlamaModel&, const GpuLayersOptions&) {
    throw Error("this llcuda was built without CUDA; rebuild with the CUDA toolkit installed");
}
LlamaGpuLayers::~LlamaGpuLayers() = default;
void LlamaGpuLayers::forward(const TokenBatch&, const float*, bool, size_t) {}
int32_t LlamaGpuLayers::greedy_token(size_t) const { return 0; }
const std::vector<float>& LlamaGpuLayers::logits() const {
    static const std::vector<float> none;
    return none;
}
const std::vector<float>& LlamaGpuLayers::top_values() const { return logits(); }
const std::vector<int32_t>& LlamaGpuLayers::top_ids() const {
    static const std::vector<int32_t> none;
    return none;
}
size_t LlamaGpuLayers::max_top_k() const { return 0; }
uint64_t LlamaGpuLayers::device_bytes() const { return 0; }

}  // namespace llcuda
