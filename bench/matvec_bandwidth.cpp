// Memory bandwidth of the decode matrix-vector kernels alone, per weight type and Llama-3 shape:
// each launch reads a different copy of the matrix (together larger than the L2 cache), as a
// decode step reads each weight once, and the figure is the weight bytes over the launch's time
// (CUDA events around a graph of 200 launches), beside a device-to-device copy's.
// Usage: llcuda_matvec_bench [--only SHAPE] [TOKENS...]   (default: every shape; 1 and 8 tokens)
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/cuda_check.hpp"
#include "backend/cuda/cuda_device.hpp"
#include "backend/cuda/cuda_ops.hpp"
#include "backend/cuda/device_buffer.hpp"
#include "core/dtype.hpp"
#include "core/error.hpp"

namespace {

using namespace llcuda;

struct Shape {
    const char* name;
    size_t rows, columns;
};

constexpr Shape kShapes[] = {
    {"8b q/o", 4096, 4096},     {"8b k/v", 1024, 4096},  {"8b gate/up", 14336, 4096},
    {"8b down", 4096, 14336},   {"1b q/o", 2048, 2048},  {"1b k/v", 512, 2048},
    {"1b gate/up", 8192, 2048}, {"1b down", 2048, 8192}, {"output 8b", 128256, 4096},
};
constexpr DType kTypes[] = {DType::Q4_K, DType::Q6_K, DType::Q8_0, DType::F16};
constexpr size_t kBytesBeyondL2 = size_t{512} << 20;
constexpr int kLaunches = 200;

// Random bytes: the kernels' speed does not depend on the values.
DeviceBuffer random_device_bytes(size_t bytes, std::mt19937_64& generator) {
    std::vector<uint64_t> host((bytes + 7) / 8);
    for (auto& word : host) word = generator() & 0x3BFF3BFF3BFF3BFFull;  // finite halves
    DeviceBuffer buffer(bytes, 0);
    CUDA_CHECK(cudaMemcpy(buffer.get(), host.data(), bytes, cudaMemcpyHostToDevice));
    return buffer;
}

// The launches are captured in a CUDA graph, as a decode step's are, so that the host's launch
// rate does not hide the time of the small matrices.
double microseconds_per_launch(const std::vector<cuda::DeviceMatrix>& copies, const float* x,
                               const void* blocks, size_t tokens, float* out) {
    cudaStream_t stream;
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    cudaGraph_t graph;
    CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    for (int i = 0; i < kLaunches; ++i)
        cuda::matvec(copies[i % copies.size()], x, blocks, tokens, out, stream);
    CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
    cudaGraphExec_t exec;
    CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    cudaEvent_t start, stop;
    CUDA_CHECK(cudaEventCreate(&start));
    CUDA_CHECK(cudaEventCreate(&stop));
    CUDA_CHECK(cudaGraphLaunch(exec, stream));  // warm-up
    CUDA_CHECK(cudaEventRecord(start, stream));
    CUDA_CHECK(cudaGraphLaunch(exec, stream));
    CUDA_CHECK(cudaEventRecord(stop, stream));
    CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    cudaStreamDestroy(stream);
    return 1000.0 * ms / kLaunches;
}

struct Arguments {
    std::vector<size_t> token_counts;
    std::string only;
};

// Throws llcuda::Error naming the argument that is not a known shape or a count from 1 to 8.
Arguments parse_arguments(int argc, char** argv) {
    Arguments arguments;
    for (int i = 1; i < argc; ++i) {
        const std::string argument = argv[i];
        if (argument == "--only") {
            if (i + 1 == argc) throw Error("--only needs a shape name, such as \"8b down\"");
            arguments.only = argv[++i];
            const bool known =
                std::any_of(std::begin(kShapes), std::end(kShapes),
                            [&](const Shape& s) { return arguments.only == s.name; });
            if (!known) throw Error(fmt::format("unknown shape \"{}\"", arguments.only));
            continue;
        }
        char* end = nullptr;
        const unsigned long tokens = std::strtoul(argument.c_str(), &end, 10);
        if (argument.empty() || *end != '\0' || tokens < 1 || tokens > cuda::kMaxMatvecTokens)
            throw Error(fmt::format("\"{}\" is not a token count from 1 to {}", argument,
                                    cuda::kMaxMatvecTokens));
        arguments.token_counts.push_back(tokens);
    }
    if (arguments.token_counts.empty()) arguments.token_counts = {1, 8};
    return arguments;
}

void run(const Arguments& arguments) {
    const auto& [token_counts, only] = arguments;
    const double copy = measure_copy_bandwidth(0, size_t{1} << 30) / 1e9;
    fmt::print("device-to-device copy: {:.0f} GB/s (read + write)\n\n", copy);
    fmt::print("| shape | rows x columns | type | tokens | µs | GB/s | of copy |\n");
    fmt::print("|---|---|---|---|---|---|---|\n");
    std::mt19937_64 generator(1);
    for (const auto& shape : kShapes) {
        if (!only.empty() && only != shape.name) continue;
        const auto x = random_device_bytes(8 * shape.columns * sizeof(float), generator);
        DeviceBuffer out(8 * shape.rows * sizeof(float), 0);
        DeviceBuffer blocks(cuda::activation_blocks_bytes(8, shape.columns), 0);
        cuda::quantize_activations(x.as<float>(), 8, shape.columns, blocks.get(), nullptr);
        for (const DType type : kTypes) {
            const size_t stride = row_bytes(type, shape.columns);
            const size_t bytes = shape.rows * stride;
            std::vector<DeviceBuffer> buffers;
            std::vector<cuda::DeviceMatrix> copies;
            for (size_t total = 0; total < kBytesBeyondL2 || copies.size() < 2; total += bytes) {
                buffers.push_back(random_device_bytes(bytes, generator));
                copies.push_back(
                    {type, buffers.back().as<uint8_t>(), shape.rows, shape.columns, stride});
            }
            for (const size_t tokens : token_counts) {
                const double us = microseconds_per_launch(copies, x.as<float>(), blocks.get(),
                                                          tokens, out.as<float>());
                const double gbps = static_cast<double>(bytes) / (us * 1e3);
                fmt::print("| {} | {} x {} | {} | {} | {:.2f} | {:.0f} | {:.0f}% |\n", shape.name,
                           shape.rows, shape.columns, dtype_name(type), tokens, us, gbps,
                           100.0 * gbps / copy);
            }
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    try {
        run(parse_arguments(argc, argv));
        return 0;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "llcuda_matvec_bench: %s\n", error.what());
        return 1;
    }
}
