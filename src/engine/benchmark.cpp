#include "engine/benchmark.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <functional>
#include <random>

#include "backend/cpu/memory_bandwidth.hpp"
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

struct Samples {
    std::vector<double> pp, tg, ttft, itl, e2e;
};

// One repetition of `parallel` requests decoded together: pp and tg are the totals over the
// sequences (tokens over the longest sequence's time), ITL each sequence's mean step.
void measure_batched(Engine& engine, const BenchmarkOptions& options,
                     const std::function<int32_t()>& token, bool measured, Samples& samples) {
    size_t issued = 0;
    std::vector<GenerationResult> results;
    const auto start = Clock::now();
    engine.generate_batch(
        [&](BatchRequest& request) {
            if (issued == options.parallel) return false;
            request.prompt_tokens.resize(std::max<size_t>(1, options.prompt_tokens));
            for (auto& t : request.prompt_tokens) t = token();
            request.options.max_tokens = options.generated_tokens;
            request.options.sampling.temperature = 0.0f;
            request.tag = issued++;
            return true;
        },
        [&](const BatchRequest&, GenerationResult&& result, std::exception_ptr error) {
            if (error) std::rethrow_exception(error);
            results.push_back(std::move(result));
        });
    if (!measured) return;
    const double wall_ms = milliseconds_since(start);
    double prompt_seconds = 0, decode_seconds = 0;
    size_t prompt_tokens = 0, generated = 0;
    for (const auto& result : results) {
        prompt_seconds = std::max(prompt_seconds, result.prompt_seconds);
        decode_seconds = std::max(decode_seconds, result.decode_seconds);
        prompt_tokens += result.prompt_tokens.size();
        generated += result.tokens.size();
        samples.ttft.push_back(result.time_to_first_token_ms);
        if (result.tokens.size() > 1)
            samples.itl.push_back(1000.0 * result.decode_seconds /
                                  static_cast<double>(result.tokens.size() - 1));
    }
    if (options.prompt_tokens > 0 && prompt_seconds > 0)
        samples.pp.push_back(static_cast<double>(prompt_tokens) / prompt_seconds);
    // The first token of each sequence comes with its prompt; the rest are decode steps.
    if (generated > results.size() && decode_seconds > 0)
        samples.tg.push_back(static_cast<double>(generated - results.size()) / decode_seconds);
    samples.e2e.push_back(wall_ms);
}

void check_benchmark_options(const BenchmarkOptions& options) {
    if (options.prompt_tokens == 0 && options.generated_tokens == 0)
        throw Error("nothing to measure: -p and -n are both 0");
    if (options.repetitions == 0) throw Error("-r must be at least 1");
    if (options.parallel == 0) throw Error("--parallel must be at least 1");
    if (options.depth > 0 && options.tg_from_empty)
        throw Error("--depth fills the cache before tg, --tg-from-empty empties it: give one");
    if (options.parallel > 1 && (options.depth > 0 || options.tg_from_empty))
        throw Error(
            "--parallel runs whole requests from an empty cache: drop --depth and "
            "--tg-from-empty");
    if (options.parallel > 1 && options.generated_tokens < 2)
        throw Error("--parallel measures decode steps: give -n 2 or more");
}

}  // namespace

BenchmarkResult run_benchmark(const BenchmarkOptions& options) {
    check_benchmark_options(options);
    auto engine_options = options.engine;
    if (engine_options.context_size == 0)
        engine_options.context_size =
            options.depth + options.prompt_tokens + options.generated_tokens + 1;
    if (options.parallel > 1) engine_options.parallel = options.parallel;
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
    result.depth = options.depth;
    result.parallel = options.parallel;
    result.gpu_bytes_held = summary.gpu_bytes;

    std::mt19937 generator(1234);
    std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(summary.vocab_size) - 1);
    Samples samples;
    auto &pp = samples.pp, &tg = samples.tg, &ttft = samples.ttft, &itl = samples.itl,
         &e2e = samples.e2e;
    for (size_t rep = 0; rep < options.warmup + options.repetitions; ++rep) {
        const bool measured = rep >= options.warmup;
        if (options.parallel > 1) {
            measure_batched(
                engine, options, [&] { return token(generator); }, measured, samples);
            continue;
        }
        if (options.depth > 0) {
            std::vector<int32_t> context(options.depth);
            for (auto& t : context) t = token(generator);
            engine.evaluate(context, true);
        }
        const auto request_start = Clock::now();
        int32_t next = token(generator);
        if (options.prompt_tokens > 0) {
            std::vector<int32_t> prompt(options.prompt_tokens);
            for (auto& t : prompt) t = token(generator);
            next = engine.evaluate(prompt, options.depth == 0);
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
                const bool fresh =
                    (options.prompt_tokens == 0 && options.depth == 0) || options.tg_from_empty;
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
    if (summary.gpu_layers < summary.layers) {
        const size_t cpu_layers = summary.layers - summary.gpu_layers;
        // All on the CPU: every weight but the embedding table (one row of it per token);
        // else the CPU's layers, the GPU holding the output head.
        result.cpu_bytes_read_per_token =
            summary.gpu_layers == 0
                ? gpu_decode_bytes(file, 0)
                : gpu_decode_bytes(file, 0) - gpu_decode_bytes(file, cpu_layers);
        result.cpu_read_bandwidth = measure_memory_read_bandwidth(summary.threads).bytes_per_second;
        if (summary.gpu_layers == 0) {
            result.cpu_bandwidth_fraction = result.generation_tokens_per_second.mean *
                                            static_cast<double>(result.cpu_bytes_read_per_token) /
                                            result.cpu_read_bandwidth;
        }
    }
    return result;
}

}  // namespace llcuda
