// How fast a decode step could be if its kernels did nothing but read their weights: the bytes
// of a Llama-3 Q4_K_M step (per layer Q/K/V, attention, output, gate/up, down; then the output
// head) read in the step's order, with the step's dependencies between the reads, in two ways:
//  - chain: one kernel per dependent piece of work, launched with programmatic dependent launch
//    inside a CUDA graph, as llcuda's decode step is;
//  - persistent: one kernel whose blocks stay resident and wait for each other at a grid
//    barrier (an atomic counter) where a dependency is.
// Each way runs with and without fetching the next piece's first weights before waiting, and
// with 9 dependent pieces a layer (llcuda's kernels today) or 5 (RMSNorm and SwiGLU folded into
// the products, attention's merge into attention). The figures are the step's time and the
// bytes over it as a share of a device-to-device copy's bandwidth in the same run: the ceiling
// a kernel design with these dependencies can reach, before any arithmetic.
#include <cuda_runtime.h>
#include <fmt/format.h>

#include <cstdint>
#include <vector>

#include "backend/cuda/cuda_check.hpp"
#include "backend/cuda/cuda_device.hpp"
#include "backend/cuda/cuda_ops.hpp"
#include "backend/cuda/kernels/kernel_launch.cuh"
#include "decode_sync_floor.hpp"

namespace {

constexpr int kThreads = 512;
constexpr int kPrefetchRounds = 4;  // 16-byte loads a thread issues before waiting

struct Piece {
    size_t offset;  // in 16-byte words, into the weights
    size_t words;
};

__device__ __forceinline__ uint4 load_streaming(const uint4* p) {
    uint4 v;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "l"(p));
    return v;
}

__device__ __forceinline__ void fold(uint32_t& sum, uint4 v) { sum ^= v.x ^ v.y ^ v.z ^ v.w; }

// Reads a piece's words from round `first` on, spread over every thread of the grid.
__device__ void read_rounds(const uint4* weights, Piece piece, int first, uint32_t& sum) {
    const size_t threads = size_t{gridDim.x} * blockDim.x;
    for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x + first * threads;
         i < piece.words; i += threads)
        fold(sum, load_streaming(weights + piece.offset + i));
}

__device__ void prefetch(const uint4* weights, Piece piece, uint4 (&ahead)[kPrefetchRounds]) {
    const size_t threads = size_t{gridDim.x} * blockDim.x;
    const size_t me = blockIdx.x * size_t{blockDim.x} + threadIdx.x;
#pragma unroll
    for (int r = 0; r < kPrefetchRounds; ++r) {
        const size_t i = me + r * threads;
        ahead[r] = i < piece.words ? load_streaming(weights + piece.offset + i) : uint4{};
    }
}

__device__ void consume(const uint4 (&ahead)[kPrefetchRounds], uint32_t& sum) {
#pragma unroll
    for (int r = 0; r < kPrefetchRounds; ++r) fold(sum, ahead[r]);
}

// With `handoff`, the piece also does what no real kernel avoids: after the wait it reads a value
// the previous kernel wrote (its input), folds it into every thread's result, reduces over the
// block and writes one value a block for the next kernel.
__global__ void chain_piece(const uint4* weights, Piece piece, bool ahead_of_wait, bool handoff,
                            const uint32_t* input, uint32_t* output, uint32_t* sink) {
    uint32_t sum = 0;
    if (ahead_of_wait) {
        uint4 ahead[kPrefetchRounds];
        prefetch(weights, piece, ahead);
        llcuda::cuda::begin_after_previous_kernel();
        if (handoff) sum = input[threadIdx.x];
        consume(ahead, sum);
        read_rounds(weights, piece, kPrefetchRounds, sum);
    } else {
        llcuda::cuda::begin_after_previous_kernel();
        if (handoff) sum = input[threadIdx.x];
        read_rounds(weights, piece, 0, sum);
    }
    if (handoff) {
        __shared__ uint32_t warp_sums[kThreads / 32];
        for (int lane_mask = 16; lane_mask > 0; lane_mask /= 2)
            sum ^= __shfl_xor_sync(0xffffffffu, sum, lane_mask);
        if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = sum;
        __syncthreads();
        if (threadIdx.x == 0) {
            for (int w = 1; w < kThreads / 32; ++w) sum ^= warp_sums[w];
            output[blockIdx.x % kThreads] = sum;
        }
        return;
    }
    if (sum == 0x9E3779B9u) sink[0] = sum;  // keeps the loads
}

__device__ void grid_barrier(unsigned* counter, unsigned target) {
    __syncthreads();
    if (threadIdx.x == 0) {
        asm volatile("red.release.gpu.global.add.u32 [%0], 1;" ::"l"(counter) : "memory");
        unsigned seen = 0;
        do {
            asm volatile("ld.acquire.gpu.global.u32 %0, [%1];"
                         : "=r"(seen)
                         : "l"(counter)
                         : "memory");
        } while (seen < target);
    }
    __syncthreads();
}

__global__ void persistent_step(const uint4* weights, const Piece* pieces, int count,
                                bool ahead_of_wait, unsigned* counter, uint32_t* sink) {
    uint32_t sum = 0;
    uint4 ahead[kPrefetchRounds];
    for (int p = 0; p < count; ++p) {
        if (ahead_of_wait) prefetch(weights, pieces[p], ahead);
        if (p > 0) grid_barrier(counter, p * gridDim.x);
        if (ahead_of_wait) {
            consume(ahead, sum);
            read_rounds(weights, pieces[p], kPrefetchRounds, sum);
        } else {
            read_rounds(weights, pieces[p], 0, sum);
        }
    }
    if (sum == 0x9E3779B9u) sink[0] = sum;
}

// Bytes a Q4_K_M layer reads per dependent piece. Q4_K is 144 bytes per 256 weights; V and down
// are Q6_K (210 bytes) in half the layers, counted here as the average.
std::vector<size_t> layer_pieces(const StepShape& s, bool folded) {
    const double q4 = 144.0 / 256, mixed = (144.0 + 210.0) / 2 / 256;
    const auto bytes = [](double b) { return static_cast<size_t>(b); };
    const size_t qkv = bytes((s.dim + s.kv_dim) * s.dim * q4 + s.kv_dim * s.dim * mixed);
    const size_t output = bytes(s.dim * s.dim * q4);
    const size_t gate_up = bytes(2 * s.ffn * s.dim * q4);
    const size_t down = bytes(s.dim * s.ffn * mixed);
    if (folded) return {qkv, 0, output, gate_up, down};
    return {0, qkv, 0, 0, output, 0, gate_up, 0, down};  // norm, …, merge, …, norm, …, SwiGLU
}

double step_microseconds(cudaGraphExec_t graph, cudaStream_t stream) {
    constexpr int kSteps = 50;
    cudaEvent_t start, stop;
    CUDA_CHECK(cudaEventCreate(&start));
    CUDA_CHECK(cudaEventCreate(&stop));
    CUDA_CHECK(cudaGraphLaunch(graph, stream));
    CUDA_CHECK(cudaEventRecord(start, stream));
    for (int i = 0; i < kSteps; ++i) CUDA_CHECK(cudaGraphLaunch(graph, stream));
    CUDA_CHECK(cudaEventRecord(stop, stream));
    CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    CUDA_CHECK(cudaEventDestroy(start));
    CUDA_CHECK(cudaEventDestroy(stop));
    return ms * 1e3 / kSteps;
}

}  // namespace

void measure_sync_floor(const StepShape& shape) {
    int sms = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    cudaStream_t stream;
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));

    // As llcuda bench measures it, once before the runs: measured again after them, it came out
    // up to 14% lower on the H100, which would flatter the second table.
    const double copy_rate = llcuda::measure_copy_bandwidth(0, size_t{1} << 30) / 1e9;
    for (const bool folded : {false, true}) {
        std::vector<Piece> pieces;
        size_t words = 0;
        for (size_t l = 0; l < shape.layers; ++l)
            for (size_t bytes : layer_pieces(shape, folded)) {
                pieces.push_back({words, bytes / 16});
                words += bytes / 16;
            }
        const size_t head = shape.vocab * shape.dim * 210 / 256;  // Q6_K
        pieces.push_back({words, head / 16});
        words += head / 16;
        pieces.push_back({0, 0});  // argmax
        const size_t bytes = words * 16;

        void* weights;
        uint32_t* sink;
        uint32_t* handoffs;
        unsigned* counter;
        Piece* device_pieces;
        CUDA_CHECK(cudaMalloc(&weights, bytes));
        CUDA_CHECK(cudaMemset(weights, 1, bytes));
        CUDA_CHECK(cudaMalloc(&sink, 4));
        CUDA_CHECK(cudaMalloc(&handoffs, 2 * kThreads * sizeof(uint32_t)));
        CUDA_CHECK(cudaMemset(handoffs, 0, 2 * kThreads * sizeof(uint32_t)));
        CUDA_CHECK(cudaMalloc(&counter, 4));
        CUDA_CHECK(cudaMalloc(&device_pieces, pieces.size() * sizeof(Piece)));
        CUDA_CHECK(cudaMemcpy(device_pieces, pieces.data(), pieces.size() * sizeof(Piece),
                              cudaMemcpyHostToDevice));
        const auto* w = static_cast<const uint4*>(weights);

        auto report = [&](const char* how, bool ahead, double us) {
            const double rate = bytes / (us * 1e-6) / 1e9;
            fmt::print("| {} | {} | {} | {:.1f} | {:.0f} | {:.1f}% |\n", folded ? 5 : 9, how,
                       ahead ? "yes" : "no", us, rate, 100 * rate / copy_rate);
        };
        if (!folded) {
            fmt::print("{} MB a step, copy {:.0f} GB/s, {} SMs\n\n", bytes / 1e6, copy_rate, sms);
            fmt::print(
                "| pieces a layer | design | weights before the wait | µs a step | GB/s | "
                "of copy |\n|---|---|---|---|---|---|\n");
        }
        for (const int variant : {0, 1, 2}) {
            const bool ahead = variant > 0, handoff = variant == 2;
            cudaGraph_t graph;
            CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
            for (size_t i = 0; i < pieces.size(); ++i) {
                const Piece& piece = pieces[i];
                // Pieces without weights (RMSNorm, merges) run as small kernels, as they do now.
                const int blocks = piece.words == 0 ? 1 : 2 * sms;
                const uint32_t* input = handoffs + (i % 2) * kThreads;
                uint32_t* output = handoffs + (1 - i % 2) * kThreads;
                llcuda::cuda::launch_kernel(chain_piece, dim3(blocks), dim3(kThreads), 0, stream, w,
                                            piece, ahead, handoff, input, output, sink);
                llcuda::cuda::check_launch("chain_piece");
            }
            CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
            cudaGraphExec_t exec;
            CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
            report(handoff ? "chain, with hand-off" : "chain", ahead,
                   step_microseconds(exec, stream));
            CUDA_CHECK(cudaGraphExecDestroy(exec));
            CUDA_CHECK(cudaGraphDestroy(graph));
        }
        int per_sm = 0;
        CUDA_CHECK(
            cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, persistent_step, kThreads, 0));
        for (const bool ahead : {false, true}) {
            cudaGraph_t graph;
            CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
            CUDA_CHECK(cudaMemsetAsync(counter, 0, 4, stream));
            const int count = static_cast<int>(pieces.size());
            void* args[] = {const_cast<uint4**>(&w),   &device_pieces, const_cast<int*>(&count),
                            const_cast<bool*>(&ahead), &counter,       &sink};
            CUDA_CHECK(cudaLaunchCooperativeKernel(reinterpret_cast<void*>(persistent_step),
                                                   dim3(sms * per_sm), dim3(kThreads), args, 0,
                                                   stream));
            CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
            cudaGraphExec_t exec;
            CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
            report("persistent", ahead, step_microseconds(exec, stream));
            CUDA_CHECK(cudaGraphExecDestroy(exec));
            CUDA_CHECK(cudaGraphDestroy(graph));
        }
        for (void* p : {weights, static_cast<void*>(sink), static_cast<void*>(handoffs),
                        static_cast<void*>(counter), static_cast<void*>(device_pieces)})
            CUDA_CHECK(cudaFree(p));
    }
}
