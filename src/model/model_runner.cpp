#include "model/model_runner.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.hpp"

namespace llcuda {
namespace {

size_t default_ubatch(size_t cpu_layers) {
    return cpu_layers > 0 ? Decoder::kMaxBatch : kGpuMaxBatch;
}

// The spans asked for, checked: contiguous, non-empty, ending at the last layer.
std::vector<GpuSpan> checked_spans(const RunnerOptions& options, size_t layer_count) {
    if (options.gpu_spans.empty()) {
        if (options.gpu_layers > layer_count) {
            throw Error(fmt::format("{} GPU layers asked for, but the model has {}",
                                    options.gpu_layers, layer_count));
        }
        if (options.gpu_layers == 0) return {};
        return {{options.device, layer_count - options.gpu_layers, layer_count}};
    }
    if (options.gpu_layers > 0) throw Error("give the GPU layers as spans or as a count, not both");
    for (size_t i = 0; i < options.gpu_spans.size(); ++i) {
        const auto& span = options.gpu_spans[i];
        const size_t end =
            i + 1 < options.gpu_spans.size() ? options.gpu_spans[i + 1].first_layer : layer_count;
        if (span.first_layer >= span.end_layer || span.end_layer != end) {
            throw Error(fmt::format(
                "GPU segment {} (layers {}..{}) does not continue to the next one at layer {}", i,
                span.first_layer, span.end_layer, end));
        }
    }
    return options.gpu_spans;
}

size_t layers_in(const std::vector<GpuSpan>& spans) {
    size_t layers = 0;
    for (const auto& span : spans) layers += span.layers();
    return layers;
}

}  // namespace

ModelRunner::ModelRunner(const Decoder& model, ThreadPool& pool, const RunnerOptions& options)
    : model_(model),
      pool_(pool),
      options_(options),
      spans_(checked_spans(options, model.spec().layer_count)),
      gpu_layers_(layers_in(spans_)),
      cpu_layers_(model.spec().layer_count - gpu_layers_),
      ubatch_(options.ubatch_size > 0 ? options.ubatch_size : default_ubatch(cpu_layers_)),
      cache_(model.spec(), options.context_size, cpu_layers_, options.sequences,
             options.cpu_kv_type) {
    if (options.sequences == 0) throw Error("at least one sequence is needed");
    const size_t ubatch_limit = cpu_layers_ > 0 ? Decoder::kMaxBatch : kGpuMaxBatch;
    if (ubatch_ > ubatch_limit) {
        throw Error(fmt::format("--ubatch-size {} is too large: at most {} {}", ubatch_,
                                ubatch_limit,
                                cpu_layers_ > 0 ? "when CPU layers take part" : "on the GPU"));
    }
    for (const auto& span : spans_) {
        GpuLayersOptions gpu;
        gpu.device = span.device;
        gpu.first_layer = span.first_layer;
        gpu.end_layer = span.end_layer;
        gpu.context_size = options.context_size;
        gpu.sequences = options.sequences;
        gpu.kv_type = options.kv_type;
        gpu.max_batch = ubatch_;
        gpu.use_graphs = options.use_graphs;
        gpu.overlap_kernels = options.overlap_kernels;
        gpu.l2_prefetch = options.l2_prefetch;
        gpu.rope_fusion = options.rope_fusion;
        gpu.row_parallel_attention = options.row_parallel_attention;
        gpu.flash_attention = options.flash_attention;
        segments_.push_back(std::make_unique<GpuLayers>(model, gpu));
    }
}

size_t ModelRunner::batch_invariant_tokens() const {
    return segments_.empty() ? 0 : kGpuInvariantTokens;
}

uint64_t ModelRunner::gpu_bytes() const {
    uint64_t total = 0;
    for (const auto& segment : segments_) total += segment->device_bytes();
    return total;
}

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
        if (segments_.empty()) {
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
        const bool one = segments_.size() == 1;
        segments_.front()->forward(part, hidden, one && want_logits, one ? top_k : 0);
        for (size_t s = 1; s < segments_.size(); ++s) {
            const bool last = s + 1 == segments_.size();
            segments_[s]->forward_after(*segments_[s - 1], part, last && want_logits,
                                        last ? top_k : 0);
        }
        cache_.record(part);
        const auto& gpu = *head();
        for (size_t o = 0; o < part.outputs.size(); ++o) greedy_.push_back(gpu.greedy_token(o));
        if (want_logits) logits_.insert(logits_.end(), gpu.logits().begin(), gpu.logits().end());
        top_values_.insert(top_values_.end(), gpu.top_values().begin(), gpu.top_values().end());
        top_ids_.insert(top_ids_.end(), gpu.top_ids().begin(), gpu.top_ids().end());
    }
}

void ModelRunner::hidden_states(std::span<const int32_t> tokens, size_t sequence,
                                std::vector<float>& hidden) {
    if (tokens.empty()) throw Error("hidden_states() needs at least one token");
    if (sequence >= sequences())
        throw Error(
            fmt::format("sequence {} does not exist ({} sequences)", sequence, sequences()));
    // No outputs: the GPU head skips its norm and logits, the CPU path never reaches them.
    TokenBatch batch;
    for (size_t i = 0; i < tokens.size(); ++i)
        batch.add(tokens[i], sequence, used(sequence) + i, false);
    model_.check_batch(batch, cache_);
    const size_t dim = model_.spec().embedding_dim;
    hidden.assign(tokens.size() * dim, 0.0f);
    for (size_t begin = 0; begin < batch.size(); begin += ubatch_) {
        const auto part = batch.slice(begin, std::min(batch.size(), begin + ubatch_));
        float* destination = hidden.data() + begin * dim;
        if (segments_.empty()) {
            model_.forward_layers(part, model_.spec().layer_count, cache_, pool_, hidden_);
            std::copy(hidden_.begin(), hidden_.end(), destination);
            continue;
        }
        const float* cpu_hidden = nullptr;
        if (cpu_layers_ > 0) {
            model_.forward_layers(part, cpu_layers_, cache_, pool_, hidden_);
            cpu_hidden = hidden_.data();
        }
        segments_.front()->forward(part, cpu_hidden, false);
        for (size_t s = 1; s < segments_.size(); ++s)
            segments_[s]->forward_after(*segments_[s - 1], part, false);
        cache_.record(part);
        head()->copy_hidden(destination, part.size());
    }
}

}  // namespace llcuda
