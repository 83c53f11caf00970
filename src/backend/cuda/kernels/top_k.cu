// The k largest logits of each row, on the device, so that sampling copies k candidates to the
// host instead of the whole vocabulary. Two passes of bitonic sorts in shared memory: each
// block sorts a 4096-value chunk of a row and keeps its best k; one block per row then sorts
// the chunks' survivors. Order: larger value first, the smaller index on ties (the CPU
// sampler's order), so the host's sampling on the candidates equals sampling on all logits.
#include <fmt/format.h>

#include <algorithm>
#include <cfloat>
#include <climits>

#include "backend/cuda/cuda_ops.hpp"
#include "backend/cuda/kernels/kernel_launch.cuh"
#include "core/error.hpp"

namespace llcuda::cuda {
namespace {

constexpr int kChunk = 4096;
constexpr int kThreads = 1024;

struct Candidate {
    float value;
    int32_t index;
};

__device__ __forceinline__ bool better(const Candidate& a, const Candidate& b) {
    return a.value > b.value || (a.value == b.value && a.index < b.index);
}

// Sorts `count` (a power of two, at most kChunk) candidates best first.
__device__ void bitonic_sort(Candidate* items, int count) {
    for (int size = 2; size <= count; size <<= 1) {
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int i = threadIdx.x; i < count; i += blockDim.x) {
                const int partner = i ^ stride;
                if (partner <= i) continue;
                const bool best_first = (i & size) == 0;
                const bool swap = best_first ? better(items[partner], items[i])
                                             : better(items[i], items[partner]);
                if (swap) {
                    const Candidate held = items[i];
                    items[i] = items[partner];
                    items[partner] = held;
                }
            }
            __syncthreads();
        }
    }
}

__global__ void chunk_top_k_kernel(const float* logits, int vocab, int k, int chunks,
                                   Candidate* survivors) {
    begin_after_previous_kernel();
    __shared__ Candidate items[kChunk];
    const int row = blockIdx.y;
    const int chunk = blockIdx.x;
    const float* values = logits + static_cast<size_t>(row) * vocab;
    for (int i = threadIdx.x; i < kChunk; i += blockDim.x) {
        const int index = chunk * kChunk + i;
        items[i] = index < vocab ? Candidate{values[index], index} : Candidate{-FLT_MAX, INT_MAX};
    }
    __syncthreads();
    bitonic_sort(items, kChunk);
    Candidate* out = survivors + (static_cast<size_t>(row) * chunks + chunk) * k;
    for (int i = threadIdx.x; i < k; i += blockDim.x) out[i] = items[i];
}

__global__ void merge_top_k_kernel(const Candidate* survivors, int count, int padded, int k,
                                   float* top_values, int32_t* top_indices) {
    begin_after_previous_kernel();
    __shared__ Candidate items[kChunk];
    const int row = blockIdx.x;
    const Candidate* in = survivors + static_cast<size_t>(row) * count;
    for (int i = threadIdx.x; i < padded; i += blockDim.x)
        items[i] = i < count ? in[i] : Candidate{-FLT_MAX, INT_MAX};
    __syncthreads();
    bitonic_sort(items, padded);
    for (int i = threadIdx.x; i < k; i += blockDim.x) {
        top_values[static_cast<size_t>(row) * k + i] = items[i].value;
        top_indices[static_cast<size_t>(row) * k + i] = items[i].index;
    }
}

int chunks_for(size_t vocab) { return static_cast<int>((vocab + kChunk - 1) / kChunk); }

}  // namespace

size_t max_device_top_k(size_t vocab) {
    return std::min({kMaxDeviceTopK, vocab, static_cast<size_t>(kChunk / chunks_for(vocab))});
}

size_t top_k_scratch_bytes(size_t rows, size_t vocab, size_t k) {
    return rows * static_cast<size_t>(chunks_for(vocab)) * k * sizeof(Candidate);
}

void top_k(const float* logits, size_t rows, size_t vocab, size_t k, void* scratch,
           float* top_values, int32_t* top_indices, cudaStream_t stream) {
    if (rows == 0) return;
    const int chunks = chunks_for(vocab);
    if (k == 0 || k > max_device_top_k(vocab)) {
        throw Error(
            fmt::format("top-k of {} on the GPU is not supported (1 to {} for a "
                        "vocabulary of {})",
                        k, max_device_top_k(vocab), vocab));
    }
    auto* survivors = static_cast<Candidate*>(scratch);
    launch_kernel(chunk_top_k_kernel,
                  dim3(static_cast<unsigned>(chunks), static_cast<unsigned>(rows)), kThreads, 0,
                  stream, logits, static_cast<int>(vocab), static_cast<int>(k), chunks, survivors);
    const int count = chunks * static_cast<int>(k);
    int padded = 1;
    while (padded < count) padded <<= 1;
    launch_kernel(merge_top_k_kernel, static_cast<unsigned>(rows), kThreads, 0, stream, survivors,
                  count, padded, static_cast<int>(k), top_values, top_indices);
    check_launch("top_k");
}

}  // namespace llcuda::cuda
