#include "model/model_runner.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.hpp"

namespace llcuda {
namespace {

size_t default_ubatch(size_t cpu_layers) {
    return cpu_layers > 0 ? Decoder::kMaxBatch : kGpuMaxBatch;
}

}  // namespace

ModelRunner::ModelRunner(const Decoder& model, ThreadPool& pool, const RunnerOptions& options)
    : model_(model),
      pool_(pool),
      options_(options),
      cpu_layers_(model.spec().layer_count -
                  std::min(options.gpu_layers, model.spec().layer_count)),
      ubatch_(options.ubatch_size > 0 ? options.ubatch_size : default_ubatch(cpu_layers_)),
      cache_(model.spec(), options.context_size, cpu_layers_, options.sequences) {
    if (options.gpu_layers > model.spec().layer_count) {
        throw Error(fmt::format("{} GPU layers asked for, but the model has {}", options.gpu_layers,
                                model.spec().layer_count));
    }
    if (options.sequences == 0) throw Error("at least one sequence is needed");
    const size_t ubatch_limit = cpu_layers_ > 0 ? Decoder::kMaxBatch : kGpuMaxBatch;
    if (ubatch_ > ubatch_limit) {
        throw Error(fmt::format("--ubatch-size {} is too large: at most {} {}", ubatch_,
                                ubatch_limit,
                                cpu_layers_ > 0 ? "when CPU layers take part" : "on the GPU"));
    }
    if (options.gpu_layers > 0) {
        GpuLayersOptions gpu;
        gpu.device = options.device;
        gpu.first_layer = cpu_layers_;
        gpu.context_size = options.context_size;
        gpu.sequences = options.sequences;
        gpu.kv_type = options.kv_type;
        gpu.max_batch = ubatch_;
        gpu.use_graphs = options.use_graphs;
        gpu.overlap_kernels = options.overlap_kernels;
        gpu.l2_prefetch = options.l2_prefetch;
        gpu.rope_fusion = options.rope_fusion;
        gpu.row_parallel_attention = options.row_parallel_attention;
        gpu_ = std::make_unique<GpuLayers>(model, gpu);
    }
}

size_t ModelRunner::batch_invariant_tokens() const { return gpu_ ? kGpuInvariantTokens : 0; }

std::span<const float> ModelRunner::logits(size_t output) const {
    const size_t vocab = vocab_size();
    if ((output + 1) * vocab > logits_.size())
        throw Error(fmt::format("no logits for output {}", output));
    return {logits_.data() + output * vocab, vocab};
}

std::pair<std::span<const float>, std::span<const int32_t>> ModelRunner::top_candidates(
    size_t output) const {
    if (top_k_ == 0 || (output + 1) * top_k_ > top_values_.size())
        throw Error(fmt::format("no top-k candidates for output {}", output));
    return {{top_values_.data() + output * top_k_, top_k_},
            {top_ids_.data() + output * top_k_, top_k_}};
}

void ModelRunner::forward(std::span<const int32_t> tokens, bool want_logits, size_t sequence) {
    if (tokens.empty()) throw Error("forward() needs at least one token");
    if (sequence >= sequences())
        throw Error(
            fmt::format("sequence {} does not exist ({} sequences)", sequence, sequences()));
    forward(TokenBatch::single(tokens.data(), tokens.size(), sequence, used(sequence)),
            want_logits);
}

void ModelRunner::forward(const TokenBatch& batch, bool want_logits, size_t top_k) {
    model_.check_batch(batch, cache_);
    if (top_k > max_device_top_k())
        throw Error(fmt::format("top-k {} cannot be taken on the device (at most {})", top_k,
                                max_device_top_k()));
    const size_t vocab = vocab_size();
    greedy_.clear();
    logits_.clear();
    top_values_.clear();
    top_ids_.clear();
    top_k_ = top_k;
    for (size_t begin = 0; begin < batch.size(); begin += ubatch_) {
        const auto part = batch.slice(begin, std::min(batch.size(), begin + ubatch_));
        if (!gpu_) {
            model_.forward(part, cache_, pool_, part_logits_);
            for (size_t o = 0; o < part.outputs.size(); ++o) {
                const auto row = part_logits_.begin() + static_cast<std::ptrdiff_t>(o * vocab);
                greedy_.push_back(static_cast<int32_t>(std::max_element(row, row + vocab) - row));
            }
            logits_.insert(logits_.end(), part_logits_.begin(), part_logits_.end());
            continue;
        }
        const float* hidden = nullptr;
        if (cpu_layers_ > 0) {
            model_.forward_layers(part, cpu_layers_, cache_, pool_, hidden_);
            hidden = hidden_.data();
        }
        gpu_->forward(part, hidden, want_logits, top_k);
        cache_.record(part);
        for (size_t o = 0; o < part.outputs.size(); ++o) greedy_.push_back(gpu_->greedy_token(o));
        if (want_logits)
            logits_.insert(logits_.end(), gpu_->logits().begin(), gpu_->logits().end());
        top_values_.insert(top_values_.end(), gpu_->top_values().begin(), gpu_->top_values().end());
        top_ids_.insert(top_ids_.end(), gpu_->top_ids().begin(), gpu_->top_ids().end());
    }
}

}  // namespace llcuda
