#include "app/engine_options.hpp"

#include <cstdio>

namespace llcuda {

CLI::Validator non_negative() {
    return CLI::Validator(
        [](std::string& value) {
            return !value.empty() && value[0] == '-' ? "must be zero or more, not " + value
                                                     : std::string();
        },
        "NUMBER >= 0");
}

void add_engine_options(CLI::App& command, EngineOptions& options) {
    command
        .add_option("-c,--ctx-size", options.context_size,
                    "Context size in tokens (default: model's, max 4096)")
        ->check(non_negative());
    command.add_option("-t,--threads", options.threads, "CPU threads (default: all cores)")
        ->check(non_negative());
    command.add_option("--device", options.device,
                       "cpu, cuda or cuda:N (default: cpu, or cuda when --gpu-layers asks)");
    command.add_option("-g,--gpu-layers,--n-gpu-layers", options.gpu_layers,
                       "Layers on the GPU, counted from the last: N, all, or auto (as many as "
                       "fit); default all with --device cuda");
    command.add_option("--devices", options.devices,
                       "GPUs to split the GPU layers over, in layer order (cuda:0,cuda:1; a "
                       "device may repeat); default: every GPU with --device cuda");
    command.add_option("--tensor-split", options.tensor_split,
                       "Proportions of the GPU layers per device of --devices, e.g. 3,1 "
                       "(default: by free memory)");
    command.add_option("--gpu-memory", options.gpu_memory,
                       "Most GPU memory to plan for on each device, e.g. 4GiB or 8G (default: "
                       "LLCUDA_GPU_MEMORY, else the free memory)");
    command
        .add_option("--cpu-kernels", options.cpu_kernels,
                    "CPU layers' matrix products: fast (quantized SIMD kernels) or reference (the "
                    "float oracle)")
        ->check(CLI::IsMember({"fast", "reference"}));
    command
        .add_option("--kv-type", options.kv_type,
                    "KV cache type of every layer: f32 (CPU layers only), f16 or q8_0; auto: f32 "
                    "on CPU layers, f16 on GPU layers")
        ->capture_default_str();
    command.add_option("-b,--batch-size", options.batch_size,
                       "Tokens per continuous-batching step (default: the ubatch size)");
    command.add_option("-u,--ubatch-size", options.ubatch_size,
                       "Tokens per forward pass (default: 512 on the GPU, 256 with CPU layers)");
    command.add_flag(
        "--no-cuda-graphs", [&options](int64_t) { options.cuda_graphs = false; },
        "Launch each decode step's kernels one by one instead of replaying a CUDA graph");
    command.add_flag(
        "--no-kernel-overlap", [&options](int64_t) { options.kernel_overlap = false; },
        "Start each GPU kernel only when the one before it has ended (no programmatic "
        "dependent launch)");
    command.add_flag(
        "--no-l2-prefetch", [&options](int64_t) { options.l2_prefetch = false; },
        "Do not let each GPU matrix product ask the L2 cache for the next product's weights");
    command.add_flag(
        "--no-rope-fusion", [&options](int64_t) { options.rope_fusion = false; },
        "In GPU decode steps, run RoPE and the KV cache store as a kernel of their own instead "
        "of inside the Q, K and V matrix products");
    command.add_flag(
        "--no-row-parallel-attention",
        [&options](int64_t) { options.row_parallel_attention = false; },
        "In GPU decode steps, let each warp of attention walk its cache rows one at a time, split "
        "over blocks and merged at every cache length, instead of a thread per row (and no split "
        "over short caches)");
    command.add_flag(
        "--no-flash-attn", [&options](int64_t) { options.flash_attention = false; },
        "In GPU prompt processing, run attention as a block per head and token instead of on "
        "tensor cores over tiles of 64 tokens");
}

void add_prefix_cache_option(CLI::App& command, EngineOptions& options) {
    options.prefix_cache = true;
    command.add_flag(
        "--no-prefix-cache", [&options](int64_t) { options.prefix_cache = false; },
        "Evaluate every prompt whole instead of keeping the tokens it starts with that a free KV "
        "cache slot already holds (the previous turn of a chat)");
}

void add_sampling_options(CLI::App& command, GenerationOptions& options) {
    auto& sampling = options.sampling;
    command.add_option("-n,--max-tokens", options.max_tokens, "Tokens to generate at most")
        ->capture_default_str()
        ->check(CLI::Range(size_t{0}, size_t{1} << 20));
    command
        .add_option("--temp,--temperature", sampling.temperature,
                    "Sampling temperature; 0 is greedy")
        ->capture_default_str();
    command.add_option("--top-k", sampling.top_k, "Keep the k most likely tokens; 0 is off")
        ->capture_default_str();
    command.add_option("--top-p", sampling.top_p, "Nucleus sampling mass; 1 is off")
        ->capture_default_str();
    command
        .add_option("--min-p", sampling.min_p, "Drop tokens below min-p times the best; 0 is off")
        ->capture_default_str();
    command
        .add_option("--repeat-penalty", sampling.repeat_penalty,
                    "Penalty for recent tokens; 1 is off")
        ->capture_default_str();
    command
        .add_option("--repeat-last-n", sampling.repeat_last_n,
                    "How many recent tokens the penalty sees")
        ->capture_default_str();
    command.add_option("--stop", options.stop, "Stop before this text (repeatable)");
}

void print_placement(const ModelSummary& summary) {
    std::fprintf(stderr, "model: %s (%s, %.2fM parameters, %zu layers, context %zu)\n",
                 summary.source.c_str(), summary.architecture.c_str(),
                 static_cast<double>(summary.parameters) / 1e6, summary.layers,
                 summary.context_size);
    std::fprintf(stderr, "placement: %s\n", summary.placement.c_str());
    for (size_t layer = 0; layer < summary.layer_devices.size(); ++layer) {
        std::fprintf(stderr, "  layer %zu: %s\n", layer, summary.layer_devices[layer].c_str());
    }
    std::fprintf(stderr, "  output: %s\n",
                 summary.layer_devices.empty() ? "CPU" : summary.layer_devices.back().c_str());
    constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
    if (summary.gpu_layers > 0) {
        std::fprintf(stderr, "GPU memory held: %.2f GiB (weights, KV cache, scratch)\n",
                     static_cast<double>(summary.gpu_bytes) / kGiB);
    }
    if (summary.gpu_segments.size() > 1) {
        for (const auto& segment : summary.gpu_segments) {
            std::fprintf(stderr, "  segment %s: layers %zu-%zu, %.2f GiB\n", segment.device.c_str(),
                         segment.first_layer, segment.end_layer - 1,
                         static_cast<double>(segment.bytes) / kGiB);
        }
    }
}

}  // namespace llcuda
