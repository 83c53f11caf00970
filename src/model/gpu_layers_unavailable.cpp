// Builds without CUDA: device selection refuses CUDA before this is reached; if it is, say so.
#include "core/error.hpp"
#include "model/gpu_layers.hpp"

namespace llcuda {

struct GpuLayers::Impl {};

GpuLayers::GpuLayers(const Decoder&, const GpuLayersOptions&) {
    throw Error("this llcuda was built without CUDA; rebuild with the CUDA toolkit installed");
}
GpuLayers::~GpuLayers() = default;
void GpuLayers::forward(const TokenBatch&, const float*, bool, size_t) {}
void GpuLayers::forward_after(const GpuLayers&, const TokenBatch&, bool, size_t) {}
bool GpuLayers::holds_output() const { return false; }
void GpuLayers::copy_hidden(float*, size_t) const {}
int32_t GpuLayers::greedy_token(size_t) const { return 0; }
const std::vector<float>& GpuLayers::logits() const {
    static const std::vector<float> none;
    return none;
}
const std::vector<float>& GpuLayers::top_values() const { return logits(); }
const std::vector<int32_t>& GpuLayers::top_ids() const {
    static const std::vector<int32_t> none;
    return none;
}
size_t GpuLayers::max_top_k() const { return 0; }
uint64_t GpuLayers::device_bytes() const { return 0; }

}  // namespace llcuda
