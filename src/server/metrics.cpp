#include "server/metrics.hpp"

#include <fmt/format.h>

namespace llcuda {

void Histogram::observe(double seconds, uint64_t times) {
    for (size_t i = 0; i < kBounds.size(); ++i)
        if (seconds <= kBounds[i]) buckets_[i] += times;
    count_ += times;
    sum_ += seconds * static_cast<double>(times);
}

std::string Histogram::render(const std::string& name, const std::string& help) const {
    std::string out = fmt::format("# HELP {0} {1}\n# TYPE {0} histogram\n", name, help);
    for (size_t i = 0; i < kBounds.size(); ++i)
        out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kBounds[i], buckets_[i]);
    out += fmt::format("{0}_bucket{{le=\"+Inf\"}} {1}\n{0}_sum {2}\n{0}_count {1}\n", name, count_,
                       sum_);
    return out;
}

std::string prometheus_label_value(const std::string& value) {
    std::string out;
    out.reserve(value.size());
    for (const char c : value) {
        if (c == '\\' || c == '"')
            out += {'\\', c};
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string per_device_gauges(const std::vector<GpuSegmentSummary>& segments) {
    std::map<std::string, std::pair<size_t, unsigned long long>> devices;  // layers, bytes
    for (const auto& segment : segments) {
        auto& [layers, bytes] = devices[segment.device];
        layers += segment.end_layer - segment.first_layer;
        bytes += segment.bytes;
    }
    std::string layers_text =
        "# HELP llcuda_gpu_device_layers Transformer layers placed on each GPU.\n"
        "# TYPE llcuda_gpu_device_layers gauge\n";
    std::string bytes_text =
        "# HELP llcuda_gpu_device_memory_held_bytes GPU memory held on each device: weights, KV "
        "cache, scratch.\n"
        "# TYPE llcuda_gpu_device_memory_held_bytes gauge\n";
    for (const auto& [device, held] : devices) {
        const auto label = prometheus_label_value(device);
        layers_text +=
            fmt::format("llcuda_gpu_device_layers{{device=\"{}\"}} {}\n", label, held.first);
        bytes_text += fmt::format("llcuda_gpu_device_memory_held_bytes{{device=\"{}\"}} {}\n",
                                  label, held.second);
    }
    return devices.empty() ? std::string() : layers_text + bytes_text;
}

void ServerMetrics::add_endpoint(const std::string& route) {
    std::lock_guard lock(mutex_);
    endpoints_.insert(route);
}

void ServerMetrics::count_request(const std::string& path, int status) {
    std::lock_guard lock(mutex_);
    ++requests_[{endpoints_.contains(path) ? path : "other", status}];
}

void ServerMetrics::count_tokens(size_t prompt, size_t generated) {
    std::lock_guard lock(mutex_);
    prompt_tokens_ += prompt;
    generated_tokens_ += generated;
}

void ServerMetrics::count_prompt_cache(size_t cached_tokens) {
    std::lock_guard lock(mutex_);
    if (cached_tokens > 0) ++prompt_cache_hits_;
    prompt_cached_tokens_ += cached_tokens;
}

void ServerMetrics::observe_latency(double first_token_seconds, double decode_seconds,
                                    size_t tokens) {
    std::lock_guard lock(mutex_);
    time_to_first_token_.observe(first_token_seconds);
    // The engine reports each request's decode time; its tokens share it evenly.
    if (tokens > 1)
        inter_token_.observe(decode_seconds / static_cast<double>(tokens - 1), tokens - 1);
}

std::string ServerMetrics::render(const GaugeValues& gauges) const {
    std::lock_guard lock(mutex_);
    std::string out =
        "# HELP llcuda_requests_total HTTP requests by endpoint and status.\n"
        "# TYPE llcuda_requests_total counter\n";
    for (const auto& [key, count] : requests_)
        out += fmt::format("llcuda_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n",
                           prometheus_label_value(key.first), key.second, count);
    out += fmt::format(
        "# HELP llcuda_prompt_tokens_total Prompt tokens processed.\n"
        "# TYPE llcuda_prompt_tokens_total counter\nllcuda_prompt_tokens_total {}\n"
        "# HELP llcuda_generated_tokens_total Tokens generated.\n"
        "# TYPE llcuda_generated_tokens_total counter\nllcuda_generated_tokens_total {}\n",
        prompt_tokens_, generated_tokens_);
    out += fmt::format(
        "# HELP llcuda_prompt_cache_hits_total Generations whose prompt started with tokens "
        "already in the KV cache.\n"
        "# TYPE llcuda_prompt_cache_hits_total counter\nllcuda_prompt_cache_hits_total {}\n"
        "# HELP llcuda_prompt_cached_tokens_total Prompt tokens found in the KV cache, not "
        "evaluated again.\n"
        "# TYPE llcuda_prompt_cached_tokens_total counter\nllcuda_prompt_cached_tokens_total {}\n",
        prompt_cache_hits_, prompt_cached_tokens_);
    out += time_to_first_token_.render("llcuda_time_to_first_token_seconds",
                                       "From request admission to the first token.");
    out +=
        inter_token_.render("llcuda_inter_token_latency_seconds", "Time between generated tokens.");
    out += fmt::format(
        "# HELP llcuda_queue_depth Generations waiting for a slot.\n"
        "# TYPE llcuda_queue_depth gauge\nllcuda_queue_depth {}\n"
        "# HELP llcuda_active_sequences Generations running now.\n"
        "# TYPE llcuda_active_sequences gauge\nllcuda_active_sequences {}\n"
        "# HELP llcuda_kv_cache_slots_used KV cache slots (one per sequence) in use.\n"
        "# TYPE llcuda_kv_cache_slots_used gauge\nllcuda_kv_cache_slots_used {}\n"
        "# HELP llcuda_kv_cache_slots KV cache slots (--parallel).\n"
        "# TYPE llcuda_kv_cache_slots gauge\nllcuda_kv_cache_slots {}\n"
        "# HELP llcuda_gpu_memory_held_bytes GPU memory held by the model: weights, KV cache, "
        "scratch.\n"
        "# TYPE llcuda_gpu_memory_held_bytes gauge\nllcuda_gpu_memory_held_bytes {}\n"
        "# HELP llcuda_ready 1 when the model is loaded.\n"
        "# TYPE llcuda_ready gauge\nllcuda_ready {}\n",
        gauges.queue_depth, gauges.active_sequences, gauges.active_sequences, gauges.parallel,
        gauges.gpu_bytes_held, gauges.ready ? 1 : 0);
    out += per_device_gauges(gauges.gpu_segments);
    return out;
}

}  // namespace llcuda
