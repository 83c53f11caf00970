#include "engine/benchmark.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <random>

#include "backend/cuda/cuda_device.hpp"
#include "core/error.hpp"
#include "core/file_type.hpp"
#include "core/gguf/gguf_file.hpp"
#include "core/tensor.hpp"
#include "engine/embedded_model.hpp"
#include "engine/placement.hpp"
#include "model/memory_estimate.hpp"

namespace llcuda {
namespace {

using Clock = std::chrono::steady_clock;

double milliseconds_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

uint64_t peak_resident_bytes() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

}  // namespace

BenchmarkResult run_benchmark(const BenchmarkOptions& options) {
    if (options.prompt_tokens == 0 && options.generated_tokens == 0)
        throw Error("nothing to measure: -p and -n are both 0");
    if (options.repetitions == 0) throw Error("-r must be at least 1");
    auto engine_options = options.engine;
    if (engine_options.context_size == 0)
        engine_options.context_size = options.prompt_tokens + options.generated_tokens + 1;
    Engine engine(engine_options);
    const auto& summary = engine.summary();

    const auto file = options.engine.model_path.empty()
                          ? GgufFile::from_memory(embedded_model_bytes(), kEmbeddedModelName)
                          : GgufFile::open(options.engine.model_path);
    BenchmarkResult result;
    result.model = summary.source;
    result.file_type = file_type_of(file);
    for (const auto& tensor : file.tensors()) result.model_bytes += tensor.byte_count;
    result.placement = summary.placement;
    result.cpu_kernels = summary.cpu_kernels;
    result.layers = summary.layers;
    result.gpu_layers = summary.gpu_layers;
    result.layer_devices = summary.layer_devices;
    result.gpu_segments = summary.gpu_segments;
    result.kv_type = options.engine.kv_type;
    result.cuda_graphs = options.engine.cuda_graphs;
    result.kernel_overlap = options.engine.kernel_overlap;
    result.l2_prefetch = options.engine.l2_prefetch;
    result.rope_fusion = options.engine.rope_fusion;
    result.row_parallel_attention = options.engine.row_parallel_attention;
    result.flash_attention = options.engine.flash_attention;
    result.prompt_tokens = options.prompt_tokens;
    result.generated_tokens = options.generated_tokens;
    result.repetitions = options.repetitions;
    result.tg_from_empty = options.tg_from_empty;
    result.gpu_bytes_held = summary.gpu_bytes;

    std::mt19937 generator(1234);
    std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(summary.vocab_size) - 1);
    std::vector<double> pp, tg, ttft, itl, e2e;
    for (size_t rep = 0; rep < options.warmup + options.repetitions; ++rep) {
        const bool measured = rep >= options.warmup;
        const auto request_start = Clock::now();
        int32_t next = token(generator);
        if (options.prompt_tokens > 0) {
            std::vector<int32_t> prompt(options.prompt_tokens);
            for (auto& t : prompt) t = token(generator);
            next = engine.evaluate(prompt, true);
            const double ms = milliseconds_since(request_start);
            if (measured) {
                pp.push_back(1000.0 * static_cast<double>(options.prompt_tokens) / ms);
                ttft.push_back(ms);
            }
        }
        if (options.generated_tokens > 0) {
            const auto start = Clock::now();
            for (size_t i = 0; i < options.generated_tokens; ++i) {
                const auto step = Clock::now();
                const bool fresh = options.prompt_tokens == 0 || options.tg_from_empty;
                next = engine.evaluate({next}, i == 0 && fresh);
                if (measured) itl.push_back(milliseconds_since(step));
            }
            if (measured) {
                tg.push_back(1000.0 * static_cast<double>(options.generated_tokens) /
                             milliseconds_since(start));
            }
        }
        // End to end only when tg continued the prompt: one request, start to last token.
        if (measured && !options.tg_from_empty) e2e.push_back(milliseconds_since(request_start));
    }
    result.prompt_tokens_per_second = summarize(pp);
    result.generation_tokens_per_second = summarize(tg);
    result.time_to_first_token_ms = summarize(ttft);
    result.inter_token_ms = summarize(itl);
    result.end_to_end_ms = summarize(e2e);
    result.peak_ram_bytes = peak_resident_bytes();
    result.batch_size = summary.batch_size;
    result.ubatch_size = summary.ubatch_size;
    result.threads = summary.threads;

    if (summary.gpu_layers > 0) {
        const int device = TensorDevice::parse(summary.layer_devices.back()).index;
        const auto memory = cuda_memory_info(device);
        result.gpu_memory_in_use = memory.total_bytes - memory.free_bytes;
        result.bytes_read_per_token = gpu_decode_bytes(file, summary.layers - summary.gpu_layers);
        result.copy_bandwidth = measure_copy_bandwidth(device, size_t{1} << 30);
        result.bandwidth_fraction = result.generation_tokens_per_second.mean *
                                    static_cast<double>(result.bytes_read_per_token) /
                                    result.copy_bandwidth;
    }
    return result;
}

}  // namespace llcuda
