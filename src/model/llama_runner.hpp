#pragma once
// One sequence through a Llama model whose layers are split between the CPU and a GPU: the
// first layers on the CPU (with their KV cache in host memory), the rest and the output head
// on the GPU, the activations crossing once per batch. With no GPU layers it is the CPU
// reference path.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "backend/cpu/thread_pool.hpp"
#include "core/dtype.hpp"
#include "model/kv_cache.hpp"
#include "model/llama_gpu_layers.hpp"
#include "model/llama_model.hpp"

namespace llcuda {

struct RunnerOptions {
    size_t context_size = 0;
    size_t gpu_layers = 0;  // the last gpu_layers layers run on the GPU
    int device = 0;
    DType kv_type = DType::F16;  // GPU layers' KV cache (the CPU keeps float)
    bool use_graphs = true;
};

class LlamaRunner {
  public:
    LlamaRunner(const LlamaModel& model, ThreadPool& pool, const RunnerOptions& options);

    // Appends `tokens` to the sequence. Afterwards greedy_token() is the argmax of the next
    // token's logits, and logits() holds them when want_logits is set (the CPU path always
    // fills them).
    void forward(std::span<const int32_t> tokens, bool want_logits);
    int32_t greedy_token() const { return greedy_; }
    const std::vector<float>& logits() const;

    void clear();
    size_t used() const { return used_; }
    size_t context_size() const { return options_.context_size; }
    size_t gpu_layers() const { return options_.gpu_layers; }
    uint64_t gpu_bytes() const { return gpu_ ? gpu_->device_bytes() : 0; }

  private:
    const LlamaModel& model_;
    ThreadPool& pool_;
    RunnerOptions options_;
    size_t cpu_layers_;
    size_t batch_;  // tokens per forward call: the CPU's batch when CPU layers take part
    KvCache cache_;
    std::unique_ptr<LlamaGpuLayers> gpu_;
    std::vector<float> logits_;
    std::vector<float> hidden_;
    int32_t greedy_ = 0;
    size_t used_ = 0;
};

}  // namespace llcuda
