#include "app/engine_options.hpp"

#include <cstdio>

namespace llcuda {

void add_engine_options(CLI::App& command, EngineOptions& options) {
    command.add_option("-c,--ctx-size", options.context_size,
                       "Context size in tokens (default: model's, max 4096)");
    command.add_option("-t,--threads", options.threads, "CPU threads (default: all cores)");
    command.add_option("--device", options.device,
                       "cpu, cuda or cuda:N (default: cpu, or cuda when --gpu-layers asks)");
    command.add_option("-g,--gpu-layers,--n-gpu-layers", options.gpu_layers,
                       "Layers on the GPU, counted from the last: N, all, or auto (as many as "
                       "fit); default all with --device cuda");
    command.add_option("--kv-type", options.kv_type, "KV cache type of GPU layers: f16 or q8_0")
        ->capture_default_str();
    command.add_flag(
        "--no-cuda-graphs", [&options](int64_t) { options.cuda_graphs = false; },
        "Launch each decode step's kernels one by one instead of replaying a CUDA graph");
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
    if (summary.gpu_layers > 0) {
        std::fprintf(stderr, "GPU memory held: %.2f GiB (weights, KV cache, scratch)\n",
                     static_cast<double>(summary.gpu_bytes) / (1024.0 * 1024.0 * 1024.0));
    }
}

}  // namespace llcuda
