// Causal attention over the KV cache, flash-attention style: scores are never stored; each warp
// walks a share of the cache rows keeping a running maximum, normaliser and weighted sum
// (online softmax), and the warps of a block merge their partial results at the end. Prompt
// processing runs one block per (query head, token). Decode (up to 8 tokens) also splits each
// head's rows over kAttentionSplits blocks (flash-decoding), whose partial results a second
// kernel merges: one token alone would otherwise keep only a few blocks busy on a long cache. Keys
// and values are read in F16 or Q8_0 (GGUF's block layout: a half scale and 32 int8 per block).
#include <cuda_fp16.h>
#include <fmt/format.h>

#include <cfloat>

#include "backend/cuda/cuda_ops.hpp"
#include "backend/cuda/kernels/activation_quant.cuh"
#include "backend/cuda/kernels/kernel_launch.cuh"
#include "backend/cuda/kernels/warp_reduce.cuh"
#include "core/error.hpp"
#include "core/quant/blocks.hpp"

namespace llcuda::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kMaxHeadDim = 256;

// Element `i` of cache row `row` (kv_dim values, F16 or Q8_0 blocks).
template <DType T>
__device__ __forceinline__ float kv_at(const uint8_t* cache, size_t row_bytes, int row, int i);

template <>
__device__ __forceinline__ float kv_at<DType::F16>(const uint8_t* cache, size_t row_bytes, int row,
                                                   int i) {
    return __half2float(reinterpret_cast<const __half*>(cache + row * row_bytes)[i]);
}

template <>
__device__ __forceinline__ float kv_at<DType::Q8_0>(const uint8_t* cache, size_t row_bytes, int row,
                                                    int i) {
    const uint8_t* block = cache + row * row_bytes + (i / 32) * sizeof(BlockQ8_0);
    return half_at(block) * static_cast<float>(reinterpret_cast<const int8_t*>(block + 2)[i % 32]);
}

// Lane `lane` owns head elements lane, lane + 32, ... (kPerLane of them).
template <DType T, int kPerLane>
__global__ void attention_kernel(const float* queries, const uint8_t* keys, const uint8_t* values,
                                 size_t row_bytes, const int32_t* positions,
                                 const int32_t* cache_rows, int head_count, int kv_head_count,
                                 int head_dim, float sqrt_head_dim, float* out, int splits,
                                 float* partial) {
    begin_after_previous_kernel();
    const int head = blockIdx.x;
    const int token = blockIdx.y;
    const int split = blockIdx.z;
    const int lane = threadIdx.x;
    const int warp = threadIdx.y;
    const int kv_offset = (head / (head_count / kv_head_count)) * head_dim;
    const int visible = positions[token] + 1;
    // The token's sequence occupies cache rows first.. (its slot); position p is row first + p.
    const size_t first = static_cast<size_t>(cache_rows[token] - positions[token]);
    keys += first * row_bytes;
    values += first * row_bytes;
    const float* query = queries + (static_cast<size_t>(token) * head_count + head) * head_dim;

    float q[kPerLane], acc[kPerLane];
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) {
        const int i = lane + 32 * k;
        q[k] = i < head_dim ? query[i] : 0.0f;
        acc[k] = 0.0f;
    }
    float running_max = -FLT_MAX;
    float normaliser = 0.0f;
    // This block's share of the rows: all of them, or one of `splits` equal chunks.
    const int chunk = (visible + splits - 1) / splits;
    const int begin = split * chunk;
    const int end = min(begin + chunk, visible);
    for (int row = begin + warp; row < end; row += kWarps) {
        float partial = 0.0f;
#pragma unroll
        for (int k = 0; k < kPerLane; ++k) {
            const int i = lane + 32 * k;
            if (i < head_dim) partial += q[k] * kv_at<T>(keys, row_bytes, row, kv_offset + i);
        }
        const float score = warp_sum(partial) / sqrt_head_dim;
        const float new_max = fmaxf(running_max, score);
        const float correction = expf(running_max - new_max);
        const float weight = expf(score - new_max);
        normaliser = normaliser * correction + weight;
#pragma unroll
        for (int k = 0; k < kPerLane; ++k) {
            const int i = lane + 32 * k;
            const float v = i < head_dim ? kv_at<T>(values, row_bytes, row, kv_offset + i) : 0.0f;
            acc[k] = acc[k] * correction + weight * v;
        }
        running_max = new_max;
    }

    __shared__ float maxima[kWarps], normalisers[kWarps];
    __shared__ float sums[kWarps][kMaxHeadDim];
    if (lane == 0) {
        maxima[warp] = running_max;
        normalisers[warp] = normaliser;
    }
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) {
        const int i = lane + 32 * k;
        if (i < head_dim) sums[warp][i] = acc[k];
    }
    __syncthreads();
    float overall_max = -FLT_MAX;
    for (int w = 0; w < kWarps; ++w) overall_max = fmaxf(overall_max, maxima[w]);
    float total = 0.0f;
    for (int w = 0; w < kWarps; ++w)
        total += normalisers[w] * expf(maxima[w] - overall_max);  // warps with no rows add 0
    if (splits == 1) {
        float* result = out + (static_cast<size_t>(token) * head_count + head) * head_dim;
        for (int i = warp * 32 + lane; i < head_dim; i += kWarps * 32) {
            float value = 0.0f;
            for (int w = 0; w < kWarps; ++w) value += sums[w][i] * expf(maxima[w] - overall_max);
            result[i] = value / total;
        }
        return;
    }
    // A partial result: maximum, normaliser, then the unnormalised weighted sum.
    float* record = partial + ((static_cast<size_t>(token) * head_count + head) * splits + split) *
                                  (head_dim + 2);
    if (warp == 0 && lane == 0) {
        record[0] = overall_max;
        record[1] = total;
    }
    for (int i = warp * 32 + lane; i < head_dim; i += kWarps * 32) {
        float value = 0.0f;
        for (int w = 0; w < kWarps; ++w) value += sums[w][i] * expf(maxima[w] - overall_max);
        record[2 + i] = value;
    }
}

// Merges the splits of each (head, token); a split without rows has normaliser 0. The first
// warp turns the splits' maxima and normalisers into weights once; then every thread sums its
// elements over the splits with independent loads.
__global__ void merge_splits_kernel(const float* partial, int head_count, int head_dim, int splits,
                                    float* out, ActivationBlock* blocks) {
    begin_after_previous_kernel();
    __shared__ float weights[kAttentionSplits];
    __shared__ float inverse_total;
    const int head = blockIdx.x;
    const int token = blockIdx.y;
    const int stride = head_dim + 2;
    const float* records =
        partial + (static_cast<size_t>(token) * head_count + head) * splits * stride;
    if (threadIdx.x < 32) {
        const int s = threadIdx.x;
        const float normaliser = s < splits ? records[s * stride + 1] : 0.0f;
        const float maximum = normaliser > 0.0f ? records[s * stride] : -FLT_MAX;
        const float overall_max = warp_max(maximum);
        const float weight = normaliser > 0.0f ? expf(maximum - overall_max) : 0.0f;
        const float total = warp_sum(normaliser * weight);
        if (s < splits) weights[s] = weight;
        if (s == 0) inverse_total = 1.0f / total;
    }
    __syncthreads();
    float* result = out + (static_cast<size_t>(token) * head_count + head) * head_dim;
    for (int i = threadIdx.x; i < head_dim; i += blockDim.x) {
        float value = 0.0f;
#pragma unroll
        for (int s = 0; s < static_cast<int>(kAttentionSplits); ++s)
            if (s < splits) value += records[s * stride + 2 + i] * weights[s];
        result[i] = value * inverse_total;
        // Whole warps share a 32-value block (head_dim % 32 == 0 when blocks are asked for).
        if (blocks != nullptr)
            quantize_warp_block(
                value * inverse_total,
                blocks[((static_cast<size_t>(token) * head_count + head) * head_dim + i) / 32]);
    }
}

template <DType T>
void launch(const float* queries, const void* keys, const void* values, const int32_t* positions,
            const int32_t* cache_rows, size_t tokens, const AttentionShape& shape, float* out,
            int splits, float* partial, ActivationBlock* blocks, cudaStream_t stream) {
    const dim3 grid(static_cast<unsigned>(shape.head_count), static_cast<unsigned>(tokens),
                    static_cast<unsigned>(splits));
    const dim3 block(32, kWarps);
    const size_t row_bytes = kv_row_bytes(T, shape.kv_head_count * shape.head_dim);
    const float sqrt_head_dim = sqrtf(static_cast<float>(shape.head_dim));
    const auto* k = static_cast<const uint8_t*>(keys);
    const auto* v = static_cast<const uint8_t*>(values);
    const int heads = static_cast<int>(shape.head_count);
    const int kv_heads = static_cast<int>(shape.kv_head_count);
    const int dim = static_cast<int>(shape.head_dim);
    auto run = [&](auto kernel) {
        launch_kernel(kernel, grid, block, 0, stream, queries, k, v, row_bytes, positions,
                      cache_rows, heads, kv_heads, dim, sqrt_head_dim, out, splits, partial);
    };
    if (shape.head_dim <= 32)
        run(attention_kernel<T, 1>);
    else if (shape.head_dim <= 64)
        run(attention_kernel<T, 2>);
    else if (shape.head_dim <= 128)
        run(attention_kernel<T, 4>);
    else
        run(attention_kernel<T, 8>);
    if (splits > 1) {
        const dim3 merge_grid(static_cast<unsigned>(shape.head_count),
                              static_cast<unsigned>(tokens));
        launch_kernel(merge_splits_kernel, merge_grid, 128, 0, stream, partial, heads, dim, splits,
                      out, blocks);
    }
}

}  // namespace

size_t attention_split_scratch_bytes(const AttentionShape& shape) {
    return kMaxSplitTokens * shape.head_count * kAttentionSplits * (shape.head_dim + 2) *
           sizeof(float);
}

bool attention(const float* queries, const void* key_cache, const void* value_cache, DType type,
               const int32_t* positions, const int32_t* cache_rows, size_t tokens,
               const AttentionShape& shape, float* out, float* split_scratch, cudaStream_t stream,
               void* activation_blocks) {
    if (tokens == 0) return false;
    if (shape.head_dim > kMaxHeadDim || shape.kv_head_count == 0 ||
        shape.head_count % shape.kv_head_count != 0) {
        throw Error(
            fmt::format("attention with {} heads, {} KV heads of {} values is not supported "
                        "on the GPU (head size at most {})",
                        shape.head_count, shape.kv_head_count, shape.head_dim, kMaxHeadDim));
    }
    const bool split = split_scratch != nullptr && tokens <= kMaxSplitTokens;
    const int splits = split ? static_cast<int>(kAttentionSplits) : 1;
    auto* blocks = split && shape.head_dim % 32 == 0
                       ? static_cast<ActivationBlock*>(activation_blocks)
                       : nullptr;
    if (type == DType::F16)
        launch<DType::F16>(queries, key_cache, value_cache, positions, cache_rows, tokens, shape,
                           out, splits, split_scratch, blocks, stream);
    else
        launch<DType::Q8_0>(queries, key_cache, value_cache, positions, cache_rows, tokens, shape,
                            out, splits, split_scratch, blocks, stream);
    check_launch("attention");
    return blocks != nullptr;
}

}  // namespace llcuda::cuda
