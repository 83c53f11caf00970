// Causal attention over the KV cache, flash-attention style: scores are never stored; each warp
// walks a share of the cache rows keeping a running maximum, normaliser and weighted sum
// (online softmax), and the warps of a block merge their partial results at the end. Prompt
// processing runs one block per (query head, token). Decode (up to 8 tokens) also splits each
// head's rows over kAttentionSplits blocks (flash-decoding), whose partial results a second
// kernel merges: one token alone would otherwise keep only a few blocks busy on a long cache.
// Over an F16 cache, decode takes the rows in parallel instead (a thread per row for the scores;
// row_parallel_attention_kernel), and over a short one needs no split. Keys and values are read
// in F16 or Q8_0 (GGUF's block layout: a half scale and 32 int8 per block).
#include <cuda_fp16.h>
#include <fmt/format.h>

#include <cfloat>

#include "backend/cuda/cuda_ops.hpp"
#include "backend/cuda/kernels/activation_quant.cuh"
#include "backend/cuda/kernels/kernel_launch.cuh"
#include "backend/cuda/kernels/kv_cache_read.cuh"
#include "backend/cuda/kernels/warp_reduce.cuh"
#include "core/error.hpp"
#include "core/quant/blocks.hpp"

namespace llcuda::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kMaxHeadDim = static_cast<int>(kMaxAttentionHeadDim);
constexpr int kRowThreads = 256;  // row_parallel_attention_kernel's; at least kMaxHeadDim

// Lane `lane` owns head elements lane, lane + 32, ... (kPerLane of them).
template <DType T, int kPerLane>
__global__ void attention_kernel(const float* queries, const uint8_t* keys, const uint8_t* values,
                                 size_t row_bytes, const int32_t* positions,
                                 const int32_t* cache_rows, int head_count, int kv_head_count,
                                 int head_dim, float score_scale, int window, float* out,
                                 int splits, float* partial) {
    begin_after_previous_kernel();
    const int head = blockIdx.x;
    const int token = blockIdx.y;
    const int split = blockIdx.z;
    const int lane = threadIdx.x;
    const int warp = threadIdx.y;
    const int kv_offset = (head / (head_count / kv_head_count)) * head_dim;
    int visible = positions[token] + 1;
    // The token's sequence occupies cache rows first.. (its slot); position p is row first + p.
    // A sliding window starts `skipped` positions later.
    const int skipped = window > 0 && visible > window ? visible - window : 0;
    visible -= skipped;
    const size_t first = static_cast<size_t>(cache_rows[token] - positions[token] + skipped);
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
        const float score = warp_sum(partial) * score_scale;
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

// All threads of the block get the block's maximum (or sum) of `value`.
template <bool kMax>
__device__ __forceinline__ float block_reduce(float value, float* scratch) {
    value = kMax ? warp_max(value) : warp_sum(value);
    const int warp = threadIdx.x / 32;
    if (threadIdx.x % 32 == 0) scratch[warp] = value;
    __syncthreads();
    float result = scratch[0];
    for (int w = 1; w < kRowThreads / 32; ++w)
        result = kMax ? fmaxf(result, scratch[w]) : result + scratch[w];
    __syncthreads();  // scratch is reused
    return result;
}

// The 8 halves of a 16-byte load of an F16 cache row.
__device__ __forceinline__ void unpack_halves(uint4 packed, float (&values)[8]) {
    const auto* halves = reinterpret_cast<const __half2*>(&packed);
#pragma unroll
    for (int h = 0; h < 4; ++h) {
        const float2 pair = __half22float2(halves[h]);
        values[2 * h] = pair.x;
        values[2 * h + 1] = pair.y;
    }
}

__device__ __forceinline__ void add_weighted(float (&acc)[8], float weight, uint4 packed) {
    float v[8];
    unpack_halves(packed, v);
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[e] += weight * v[e];
}

// Decode over an F16 cache with the rows in parallel: a block per (head, token, split). A thread
// scores one cache row (kRowThreads rows a round, the online softmax carried between rounds);
// for the weighted sum, a thread takes 8 elements (one 16-byte vector) of every
// rows_per_pass-th row. Each thread fetches its first values with its key, so that both are in
// flight together: the kernel's time is a few memory latencies a round. With one split (a short
// cache) it writes the result and no merge kernel runs; otherwise it writes its split's partial
// result for merge_splits_kernel, as attention_kernel does.
__global__ void __launch_bounds__(kRowThreads)
    row_parallel_attention_kernel(const float* queries, const __half* keys, const __half* values,
                                  int kv_dim, const int32_t* positions, const int32_t* cache_rows,
                                  int head_count, int kv_head_count, int head_dim,
                                  float score_scale, int window, float* out,
                                  ActivationBlock* blocks, int splits, float* partial) {
    constexpr int kThreads = kRowThreads;
    constexpr int kKeyLoads = 8;    // key vectors a thread has in flight
    constexpr int kValueLoads = 8;  // value vectors a thread has in flight
    __shared__ float query[kMaxHeadDim];
    __shared__ float weights[kThreads];
    __shared__ float reduce_scratch[kThreads / 32];
    __shared__ float partial_sums[kThreads][8];
    const int head = blockIdx.x;
    const int token = blockIdx.y;
    const int split = blockIdx.z;
    const int t = threadIdx.x;
    const int kv_offset = (head / (head_count / kv_head_count)) * head_dim;
    const int vectors = head_dim / 8;
    const int slot = t % vectors;  // elements 8 * slot .. 8 * slot + 7
    const int rows_per_pass = kThreads / vectors;
    const int lane_row = t / vectors;  // rows lane_row, lane_row + rows_per_pass, ...
    const bool sums_values = lane_row < rows_per_pass;
    begin_after_previous_kernel();
    int visible = positions[token] + 1;
    const int skipped = window > 0 && visible > window ? visible - window : 0;  // sliding window
    visible -= skipped;
    const size_t first = static_cast<size_t>(cache_rows[token] - positions[token] + skipped);
    keys += first * kv_dim + kv_offset;
    values += first * kv_dim + kv_offset;
    const size_t out_offset = (static_cast<size_t>(token) * head_count + head) * head_dim;
    for (int i = t; i < head_dim; i += kThreads) query[i] = queries[out_offset + i];

    auto value_vector = [&](int row) {
        return *reinterpret_cast<const uint4*>(values + static_cast<size_t>(row) * kv_dim +
                                               8 * slot);
    };
    // This block's share of the rows: all of them, or one of `splits` equal chunks.
    const int chunk = (visible + splits - 1) / splits;
    const int begin = split * chunk;
    const int end = min(begin + chunk, visible);
    float running_max = -FLT_MAX, normaliser = 0.0f;
    float acc[8] = {};
    for (int base = begin; base < end; base += kThreads) {
        const int rows = min(kThreads, end - base);
        // The key's first vectors, then the first values, all in flight together.
        const auto* key =
            reinterpret_cast<const uint4*>(keys + static_cast<size_t>(base + t) * kv_dim);
        uint4 key_part[kKeyLoads];
#pragma unroll
        for (int k = 0; k < kKeyLoads; ++k)
            key_part[k] = t < rows && k < vectors ? key[k] : uint4{};
        uint4 ahead[kValueLoads];
#pragma unroll
        for (int k = 0; k < kValueLoads; ++k) {
            const int r = lane_row + k * rows_per_pass;
            ahead[k] = sums_values && r < rows ? value_vector(base + r) : uint4{};
        }
        __syncthreads();  // the query is in shared memory (and last round's weights are used)
        float dot = 0.0f;
        for (int v0 = 0; v0 < vectors; v0 += kKeyLoads) {
            if (v0 > 0) {
#pragma unroll
                for (int k = 0; k < kKeyLoads; ++k)
                    key_part[k] = t < rows && v0 + k < vectors ? key[v0 + k] : uint4{};
            }
#pragma unroll
            for (int k = 0; k < kKeyLoads; ++k) {
                if (v0 + k >= vectors) continue;
                float key_values[8];
                unpack_halves(key_part[k], key_values);
#pragma unroll
                for (int e = 0; e < 8; e += 2)
                    dot += query[8 * (v0 + k) + e] * key_values[e] +
                           query[8 * (v0 + k) + e + 1] * key_values[e + 1];
            }
        }
        const float score = t < rows ? dot * score_scale : -FLT_MAX;
        const float new_max = fmaxf(running_max, block_reduce<true>(score, reduce_scratch));
        const float weight = t < rows ? expf(score - new_max) : 0.0f;
        weights[t] = weight;
        const float correction = expf(running_max - new_max);
        normaliser = normaliser * correction + block_reduce<false>(weight, reduce_scratch);
        running_max = new_max;
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[e] *= correction;
        if (!sums_values) continue;
        for (int k0 = 0; lane_row + k0 * rows_per_pass < rows; k0 += kValueLoads) {
#pragma unroll
            for (int k = 0; k < kValueLoads; ++k) {
                const int r = lane_row + (k0 + k) * rows_per_pass;
                if (r < rows) add_weighted(acc, weights[r], ahead[k]);
            }
#pragma unroll
            for (int k = 0; k < kValueLoads; ++k) {
                const int r = lane_row + (k0 + kValueLoads + k) * rows_per_pass;
                ahead[k] = r < rows ? value_vector(base + r) : uint4{};
            }
        }
    }
#pragma unroll
    for (int e = 0; e < 8; ++e) partial_sums[t][e] = acc[e];
    __syncthreads();
    if (t >= head_dim) return;
    float value = 0.0f;
    for (int r = 0; r < rows_per_pass; ++r) value += partial_sums[r * vectors + t / 8][t % 8];
    if (splits > 1) {
        // A partial result: maximum, normaliser (0 for a split without rows), then the
        // unnormalised weighted sum.
        float* record =
            partial +
            ((static_cast<size_t>(token) * head_count + head) * splits + split) * (head_dim + 2);
        if (t == 0) {
            record[0] = running_max;
            record[1] = normaliser;
        }
        record[2 + t] = value;
        return;
    }
    value /= normaliser;
    out[out_offset + t] = value;
    // Whole warps share a 32-value block (head_dim % 32 == 0 when blocks are asked for).
    if (blocks != nullptr) quantize_warp_block(value, blocks[(out_offset + t) / 32]);
}

template <DType T>
void launch(const float* queries, const void* keys, const void* values, const int32_t* positions,
            const int32_t* cache_rows, size_t tokens, const AttentionShape& shape, float* out,
            bool rows_in_parallel, int splits, float* partial, ActivationBlock* blocks,
            cudaStream_t stream) {
    const dim3 grid(static_cast<unsigned>(shape.head_count), static_cast<unsigned>(tokens),
                    static_cast<unsigned>(splits));
    const dim3 block(32, kWarps);
    const size_t row_bytes = kv_row_bytes(T, shape.kv_head_count * shape.head_dim);
    const float score_scale =
        shape.scale != 0.0f ? shape.scale : 1.0f / sqrtf(static_cast<float>(shape.head_dim));
    const int window = static_cast<int>(shape.window);
    const auto* k = static_cast<const uint8_t*>(keys);
    const auto* v = static_cast<const uint8_t*>(values);
    const int heads = static_cast<int>(shape.head_count);
    const int kv_heads = static_cast<int>(shape.kv_head_count);
    const int dim = static_cast<int>(shape.head_dim);
    auto run = [&](auto kernel) {
        launch_kernel(kernel, grid, block, 0, stream, queries, k, v, row_bytes, positions,
                      cache_rows, heads, kv_heads, dim, score_scale, window, out, splits, partial);
    };
    if (rows_in_parallel)
        launch_kernel(row_parallel_attention_kernel, grid, kRowThreads, 0, stream, queries,
                      static_cast<const __half*>(keys), static_cast<const __half*>(values),
                      kv_heads * dim, positions, cache_rows, heads, kv_heads, dim, score_scale,
                      window, out, splits == 1 ? blocks : nullptr, splits, partial);
    else if (shape.head_dim <= 32)
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
               void* activation_blocks, size_t most_visible, bool rows_in_parallel,
               bool flash_prefill) {
    if (tokens == 0) return false;
    if (shape.head_dim > kMaxHeadDim || shape.kv_head_count == 0 ||
        shape.head_count % shape.kv_head_count != 0) {
        throw Error(
            fmt::format("attention with {} heads, {} KV heads of {} values is not supported "
                        "on the GPU (head size at most {})",
                        shape.head_count, shape.kv_head_count, shape.head_dim, kMaxHeadDim));
    }
    const bool decode = split_scratch != nullptr && tokens <= kMaxSplitTokens;
    if (!decode && flash_prefill &&
        flash_prefill_attention(queries, key_cache, value_cache, type, positions, cache_rows,
                                tokens, shape, out, stream))
        return false;
    const bool parallel_rows =
        decode && rows_in_parallel && type == DType::F16 && shape.head_dim % 8 == 0;
    const bool one_pass = parallel_rows && most_visible <= kShortAttentionRows;
    const int splits = decode && !one_pass ? static_cast<int>(kAttentionSplits) : 1;
    auto* blocks = decode && shape.head_dim % 32 == 0
                       ? static_cast<ActivationBlock*>(activation_blocks)
                       : nullptr;
    if (type == DType::F16)
        launch<DType::F16>(queries, key_cache, value_cache, positions, cache_rows, tokens, shape,
                           out, parallel_rows, splits, split_scratch, blocks, stream);
    else
        launch<DType::Q8_0>(queries, key_cache, value_cache, positions, cache_rows, tokens, shape,
                            out, parallel_rows, splits, split_scratch, blocks, stream);
    check_launch("attention");
    return blocks != nullptr;
}

}  // namespace llcuda::cuda
