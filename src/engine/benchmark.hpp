#pragma once
// `llcuda bench`: prompt processing and generation speed of a model as placed by the engine
// options. Each repetition is one request of random tokens from an empty cache: the prompt
// (pp, time to first token), then the generated tokens one at a time (tg, inter-token
// latency), end to end. Repeated after warm-up, with the GPU's copy bandwidth measured in the
// same run as the yardstick for decode.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/statistics.hpp"
#include "llcuda/engine.hpp"

namespace llcuda {

struct BenchmarkOptions {
    EngineOptions engine;
    size_t prompt_tokens = 512;
    size_t generated_tokens = 128;
    size_t repetitions = 5;
    size_t warmup = 1;
    // tg from an empty cache, as llama-bench's tg test; otherwise it continues the prompt's
    // sequence (depth = prompt length), as a request does.
    bool tg_from_empty = false;
    // Tokens already in the cache (unmeasured) before each repetition's prompt and generation:
    // speed at a context depth, as llama-bench's -d.
    size_t depth = 0;
    // Sequences decoded together (continuous batching, --parallel): each repetition runs this
    // many requests of -p random tokens and -n generated tokens at once; tg is the total rate.
    size_t parallel = 1;
};

struct BenchmarkResult {
    std::string model;
    std::string file_type;
    uint64_t model_bytes = 0;
    std::string placement;
    std::string cpu_kernels;  // "reference" or "fast (avx2)"
    size_t layers = 0;
    size_t gpu_layers = 0;
    std::vector<std::string> layer_devices;
    std::vector<GpuSegmentSummary> gpu_segments;  // each GPU segment's device, layers, memory
    size_t batch_size = 0, ubatch_size = 0, threads = 0;
    std::vector<std::pair<std::string, std::string>> settings;  // a sweep's values for this row
    std::string kv_type;
    bool cuda_graphs = true;
    bool kernel_overlap = true;
    bool l2_prefetch = true;
    bool rope_fusion = true;
    bool row_parallel_attention = true;
    bool flash_attention = true;
    size_t prompt_tokens = 0, generated_tokens = 0, repetitions = 0;
    bool tg_from_empty = false;
    size_t depth = 0, parallel = 1;

    Summary prompt_tokens_per_second;      // pp
    Summary generation_tokens_per_second;  // tg (with parallel > 1: all sequences together)
    Summary time_to_first_token_ms;        // prompt processed and first token picked
    Summary
        inter_token_ms;     // every decode step of every repetition (batched: each sequence's mean)
    Summary end_to_end_ms;  // prompt plus all generated tokens
    uint64_t peak_ram_bytes = 0;        // the process's peak resident memory so far
    uint64_t gpu_bytes_held = 0;        // weights, KV cache and scratch of this run
    uint64_t gpu_memory_in_use = 0;     // on the device, all processes, after the run
    uint64_t bytes_read_per_token = 0;  // weights a decode step reads on the GPU
    double copy_bandwidth = 0;          // bytes/s, device-to-device copy, read + write
    double bandwidth_fraction = 0;      // tg mean * bytes per token / copy bandwidth
    // With layers on the CPU: the weights a decode step reads there, the machine's memory read
    // bandwidth measured in this run with the run's threads, and (all layers on the CPU) the
    // share of it decode reaches: tg mean * bytes per token / read bandwidth.
    uint64_t cpu_bytes_read_per_token = 0;
    double cpu_read_bandwidth = 0;
    double cpu_bandwidth_fraction = 0;
};

BenchmarkResult run_benchmark(const BenchmarkOptions& options);

}  // namespace llcuda
