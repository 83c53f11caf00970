#pragma once
// The server's Prometheus metrics (text exposition format 0.0.4): requests by endpoint and
// status, prompt and generated tokens, time-to-first-token and inter-token latency histograms,
// and gauges filled in when scraped (queue depth, active sequences, KV slots, GPU memory).
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "llcuda/engine.hpp"

namespace llcuda {

class Histogram {
  public:
    static constexpr std::array<double, 12> kBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                       0.5,   1,    2.5,   5,    10,  30};
    void observe(double seconds, uint64_t times = 1);
    std::string render(const std::string& name, const std::string& help) const;

  private:
    std::array<uint64_t, kBounds.size()> buckets_{};
    uint64_t count_ = 0;
    double sum_ = 0;
};

struct GaugeValues {
    size_t queue_depth = 0, active_sequences = 0, parallel = 0;
    uint64_t gpu_bytes_held = 0;
    std::vector<GpuSegmentSummary> gpu_segments;  // per-device layers and memory come from these
    bool ready = false;
};

// A label value as the text format wants it: backslash, double quote and newline escaped.
std::string prometheus_label_value(const std::string& value);
// llcuda_gpu_device_layers and llcuda_gpu_device_memory_held_bytes, a series per GPU that the
// model's segments are on (two segments may share a device: their layers and bytes add up);
// empty when no layer is on a GPU.
std::string per_device_gauges(const std::vector<GpuSegmentSummary>& segments);

class ServerMetrics {
  public:
    // The routes counted by name; every other path (clients choose paths, so there is no
    // bound on them) is counted as the one endpoint "other".
    void add_endpoint(const std::string& route);
    void count_request(const std::string& path, int status);
    void count_tokens(size_t prompt, size_t generated);
    // A generation's prompt tokens found in the KV cache (a hit when more than 0).
    void count_prompt_cache(size_t cached_tokens);
    void observe_latency(double first_token_seconds, double decode_seconds, size_t tokens);
    std::string render(const GaugeValues& gauges) const;

  private:
    mutable std::mutex mutex_;
    std::set<std::string> endpoints_;
    std::map<std::pair<std::string, int>, uint64_t> requests_;
    uint64_t prompt_tokens_ = 0, generated_tokens_ = 0;
    uint64_t prompt_cache_hits_ = 0, prompt_cached_tokens_ = 0;
    Histogram time_to_first_token_, inter_token_;
};

}  // namespace llcuda
