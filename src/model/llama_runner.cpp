#include "model/llama_runner.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.hpp"

namespace llcuda {

LlamaRunner::LlamaRunner(const LlamaModel& model, ThreadPool& pool, const RunnerOptions& options)
    : model_(model),
      pool_(pool),
      options_(options),
      cpu_layers_(model.hparams().layer_count -
                  std::min(options.gpu_layers, model.hparams().layer_count)),
      batch_(cpu_layers_ > 0 ? LlamaModel::kMaxBatch : kGpuMaxBatch),
      cache_(model.hparams(), options.context_size, cpu_layers_) {
    if (options.gpu_layers > model.hparams().layer_count) {
        throw Error(fmt::format("{} GPU layers asked for, but the model has {}", options.gpu_layers,
                                model.hparams().layer_count));
    }
    if (options.gpu_layers > 0) {
        GpuLayersOptions gpu;
        gpu.device = options.device;
        gpu.first_layer = cpu_layers_;
        gpu.context_size = options.context_size;
        gpu.kv_type = options.kv_type;
        gpu.max_batch = batch_;
        gpu.use_graphs = options.use_graphs;
        gpu_ = std::make_unique<LlamaGpuLayers>(model, gpu);
    }
}

const std::vector<float>& LlamaRunner::logits() const { return gpu_ ? gpu_->logits() : logits_; }

void LlamaRunner::clear() {
    cache_.clear();
    used_ = 0;
}

void LlamaRunner::forward(std::span<const int32_t> tokens, bool want_logits) {
    model_.check_tokens(tokens, used_, options_.context_size);
    if (!gpu_) {
        model_.forward(tokens, cache_, pool_, logits_);
        used_ += tokens.size();
        greedy_ = static_cast<int32_t>(std::max_element(logits_.begin(), logits_.end()) -
                                       logits_.begin());
        return;
    }
    for (size_t begin = 0; begin < tokens.size(); begin += batch_) {
        const auto part = tokens.subspan(begin, std::min(batch_, tokens.size() - begin));
        const bool last = begin + part.size() == tokens.size();
        const float* hidden = nullptr;
        if (cpu_layers_ > 0) {
            model_.forward_layers(part, cpu_layers_, cache_, pool_, hidden_);
            hidden = hidden_.data();
        }
        gpu_->forward(part, hidden, used_, want_logits && last);
        used_ += part.size();
    }
    greedy_ = gpu_->greedy_token();
}

}  // namespace llcuda
