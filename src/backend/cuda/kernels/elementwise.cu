// RMSNorm, RoPE, SwiGLU and GeGLU, residual adds (plain or after a norm), scaling, soft-capping
// and argmax: the small ops between the matrix products. RMSNorm and the gated activations can
// also write their output's int8 blocks for the next matrix product.
#include <cfloat>
#include <cstdint>

#include "backend/cuda/cuda_ops.hpp"
#include "backend/cuda/kernels/activation_quant.cuh"
#include "backend/cuda/kernels/kernel_launch.cuh"
#include "backend/cuda/kernels/rope_rotation.cuh"
#include "backend/cuda/kernels/warp_reduce.cuh"

namespace llcuda::cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr unsigned kNormThreads = 1024;

unsigned blocks_for(size_t count) {
    return static_cast<unsigned>((count + kThreads - 1) / kThreads);
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets it.
__device__ float block_sum(float value) {
    __shared__ float partial[32];
    const int lane = threadIdx.x % 32;
    const int warp = threadIdx.x / 32;
    value = warp_sum(value);
    if (lane == 0) partial[warp] = value;
    __syncthreads();
    const int warps = blockDim.x / 32;
    value = lane < warps ? partial[lane] : 0.0f;
    value = warp_sum(value);
    __syncthreads();
    return value;
}

// One block per row. Rows of whole float4s (every model's width) load 16 bytes per thread at a
// time, so that one pass over a 4096-wide row is four loads per thread, not sixteen. A decode
// step's norm waits on memory once: each thread's first float4 of the weight, which no
// kernel writes, is fetched before waiting for the previous kernel, and its first float4 of the
// row is kept from the sum for the second pass.
__global__ void rms_norm_kernel(const float* x, const float* weight, float* out, size_t size,
                                float epsilon, ActivationBlock* blocks,
                                const int32_t* source_rows) {
    const bool vectorised = size % 4 == 0;
    const auto* weight4 = reinterpret_cast<const float4*>(weight);
    const float4 none = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    const float4 first_weight = vectorised && threadIdx.x < size / 4 ? weight4[threadIdx.x] : none;
    begin_after_previous_kernel();
    const size_t source = source_rows != nullptr ? source_rows[blockIdx.x] : blockIdx.x;
    const float* row = x + source * size;
    float* result = out + blockIdx.x * size;
    float squares = 0.0f;
    float4 first_value = none;
    if (vectorised) {
        const auto* row4 = reinterpret_cast<const float4*>(row);
        for (size_t i = threadIdx.x; i < size / 4; i += blockDim.x) {
            const float4 v = row4[i];
            if (i == threadIdx.x) first_value = v;
            squares += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
        }
    } else {
        for (size_t i = threadIdx.x; i < size; i += blockDim.x) squares += row[i] * row[i];
    }
    const float mean = block_sum(squares) / static_cast<float>(size);
    const float scale = 1.0f / sqrtf(mean + epsilon);
    if (vectorised) {
        const auto* row4 = reinterpret_cast<const float4*>(row);
        auto* result4 = reinterpret_cast<float4*>(result);
        const size_t lane = threadIdx.x % 32;
        // Whole warps go round together, so that the block's lanes can share its maximum.
        for (size_t first = threadIdx.x - lane; first < size / 4; first += blockDim.x) {
            const size_t i = first + lane;
            const bool valid = i < size / 4;
            float4 normed = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            if (valid) {
                const bool kept = i == threadIdx.x;
                const float4 v = kept ? first_value : row4[i];
                const float4 w = kept ? first_weight : weight4[i];
                normed = make_float4(w.x * (scale * v.x), w.y * (scale * v.y), w.z * (scale * v.z),
                                     w.w * (scale * v.w));
                result4[i] = normed;
            }
            if (blocks != nullptr)
                quantize_group_of_8(normed, blocks[blockIdx.x * (size / 32) + i / 8],
                                    static_cast<int>(i % 8), valid);
        }
    } else {
        for (size_t i = threadIdx.x; i < size; i += blockDim.x)
            result[i] = weight[i] * (scale * row[i]);
    }
}

__global__ void rope_kernel(float* heads, size_t tokens, size_t head_count, size_t head_dim,
                            const int32_t* positions, DeviceRope params) {
    begin_after_previous_kernel();
    const size_t pairs = params.rotated_dims / 2;
    const size_t index = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (index >= tokens * head_count * pairs) return;
    const size_t pair = index % pairs;
    const size_t head = (index / pairs) % head_count;
    const size_t token = index / (pairs * head_count);
    rope_rotate_pair(heads + (token * head_count + head) * head_dim, pair, positions[token],
                     params);
}

__device__ __forceinline__ float swiglu_value(float gate, float up) {
    return gate * (1.0f / (1.0f + expf(-gate))) * up;
}

// The CPU's gelu_tanh (cpu_ops.cpp), same constants and order.
__device__ __forceinline__ float geglu_value(float gate, float up) {
    constexpr float kSqrtTwoOverPi = 0.7978845608028654f;
    return 0.5f * gate * (1.0f + tanhf(kSqrtTwoOverPi * (gate + 0.044715f * gate * gate * gate))) *
           up;
}

// The gated activations: swiglu_value or geglu_value.
template <bool kGelu>
__device__ __forceinline__ float gated_value(float gate, float up) {
    return kGelu ? geglu_value(gate, up) : swiglu_value(gate, up);
}

template <bool kGelu>
__global__ void gated_kernel(float* gate, const float* up, size_t count) {
    begin_after_previous_kernel();
    const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= count) return;
    gate[i] = gated_value<kGelu>(gate[i], up[i]);
}

// One warp per 32 values: the row's int8 block as well.
template <bool kGelu>
__global__ void gated_quantize_kernel(float* gate, const float* up, size_t total,
                                      ActivationBlock* blocks) {
    begin_after_previous_kernel();
    const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i / 32 >= total / 32) return;
    const float value = gated_value<kGelu>(gate[i], up[i]);
    gate[i] = value;
    quantize_warp_block(value, blocks[i / 32]);
}

// One block per row: x += weight * (scale * source), the CPU's rms_norm then add_in_place. With
// next_weight, the row of x it leaves is normalised too (the next RMSNorm, out = next_weight *
// (scale' * x), and its int8 blocks when given: size a multiple of 32, whole warps per block), so
// that a post norm, the residual add and the next pre-norm are one launch. Rows are walked in
// rounds of blockDim.x values so that a warp holds 32 consecutive ones.
__global__ void rms_norm_add_kernel(const float* source, const float* weight, float* x, size_t size,
                                    float epsilon, const float* next_weight, float* next_out,
                                    ActivationBlock* blocks) {
    begin_after_previous_kernel();
    const float* row = source + blockIdx.x * size;
    float* destination = x + blockIdx.x * size;
    float squares = 0.0f;
    for (size_t i = threadIdx.x; i < size; i += blockDim.x) squares += row[i] * row[i];
    const float mean = block_sum(squares) / static_cast<float>(size);
    const float scale = 1.0f / sqrtf(mean + epsilon);
    float sum_squares = 0.0f;
    for (size_t i = threadIdx.x; i < size; i += blockDim.x) {
        const float value = destination[i] + weight[i] * (scale * row[i]);
        destination[i] = value;
        sum_squares += value * value;
    }
    if (next_weight == nullptr) return;
    const float next_mean = block_sum(sum_squares) / static_cast<float>(size);
    const float next_scale = 1.0f / sqrtf(next_mean + epsilon);
    float* result = next_out + blockIdx.x * size;
    for (size_t first = 0; first < size; first += blockDim.x) {
        const size_t i = first + threadIdx.x;
        if (i >= size) break;  // whole warps stop together when size % 32 == 0
        // Each thread reads back only what it wrote itself above.
        const float normed = next_weight[i] * (next_scale * destination[i]);
        result[i] = normed;
        if (blocks != nullptr) quantize_warp_block(normed, blocks[(blockIdx.x * size + i) / 32]);
    }
}

__global__ void scale_kernel(float* values, size_t count, float factor) {
    begin_after_previous_kernel();
    const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < count) values[i] *= factor;
}

__global__ void softcap_kernel(float* values, size_t count, float cap) {
    begin_after_previous_kernel();
    const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < count) values[i] = cap * tanhf(values[i] / cap);
}

__global__ void add_kernel(float* destination, const float* source, size_t count) {
    begin_after_previous_kernel();
    const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < count) destination[i] += source[i];
}

constexpr unsigned kArgmaxBlocks = 64;  // per row: a 128k vocabulary is 2004 values a block
constexpr unsigned kArgmaxThreads = 256;

struct ArgmaxCandidate {
    float value;
    int32_t index;
};

// A row's scratch: its arrival count, then its blocks' candidates; rows at fixed places, so that
// calls with fewer rows find the counts where earlier calls left them.
struct ArgmaxRowScratch {
    unsigned arrivals;
    unsigned unused;
    ArgmaxCandidate candidates[kArgmaxBlocks];
};

// Whether candidate a beats b: larger, or as large and first (an index of `count` marks no
// candidate yet, beaten by anything).
__device__ __forceinline__ bool beats(float value, int32_t index, float best, int32_t best_index,
                                      int32_t none) {
    return best_index == none || value > best || (value == best && index < best_index);
}

// The best of the block's candidates, for every thread (blockDim.x == kArgmaxThreads).
__device__ ArgmaxCandidate block_best(ArgmaxCandidate mine, int32_t none) {
    __shared__ float values[kArgmaxThreads];
    __shared__ int32_t indices[kArgmaxThreads];
    values[threadIdx.x] = mine.value;
    indices[threadIdx.x] = mine.index;
    __syncthreads();
    for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
        if (threadIdx.x < stride) {
            const float other = values[threadIdx.x + stride];
            const int32_t other_index = indices[threadIdx.x + stride];
            if (other_index != none &&
                beats(other, other_index, values[threadIdx.x], indices[threadIdx.x], none)) {
                values[threadIdx.x] = other;
                indices[threadIdx.x] = other_index;
            }
        }
        __syncthreads();
    }
    return {values[0], indices[0]};
}

// kArgmaxBlocks blocks per row each find the best of their share (the first of equal maxima);
// the last block of a row to finish, told by an arrival count, picks among their results. One
// block per row would read a 128k vocabulary through a single SM.
__global__ void argmax_kernel(const float* values, size_t count, int32_t* result,
                              ArgmaxRowScratch* scratch) {
    begin_after_previous_kernel();
    const size_t row = blockIdx.y;
    values += row * count;
    const auto none = static_cast<int32_t>(count);
    // Shares of whole float4s, so that 16-byte loads stay aligned.
    const size_t share = ((count + gridDim.x - 1) / gridDim.x + 3) / 4 * 4;
    const size_t begin = min(count, blockIdx.x * share), end = min(count, begin + share);
    ArgmaxCandidate best{-FLT_MAX, none};
    auto consider = [&](float value, size_t i) {
        if (best.index == none || value > best.value) best = {value, static_cast<int32_t>(i)};
    };
    size_t scalar_from = begin;
    if (count % 4 == 0 && reinterpret_cast<uintptr_t>(values) % 16 == 0) {
        // Each thread's values in index order, so that the first of equal maxima stays its best.
        const auto* values4 = reinterpret_cast<const float4*>(values);
        for (size_t i = begin / 4 + threadIdx.x; i < end / 4; i += blockDim.x) {
            const float4 v = values4[i];
            consider(v.x, 4 * i);
            consider(v.y, 4 * i + 1);
            consider(v.z, 4 * i + 2);
            consider(v.w, 4 * i + 3);
        }
        scalar_from = end;
    }
    for (size_t i = scalar_from + threadIdx.x; i < end; i += blockDim.x) consider(values[i], i);
    const ArgmaxCandidate block = block_best(best, none);

    __shared__ bool last;
    ArgmaxCandidate* row_candidates = scratch[row].candidates;
    if (threadIdx.x == 0) {
        row_candidates[blockIdx.x] = block;
        __threadfence();
        last = atomicAdd(&scratch[row].arrivals, 1u) + 1 == gridDim.x;
    }
    __syncthreads();
    if (!last) return;
    __threadfence();  // the other blocks' candidates are visible
    ArgmaxCandidate mine{-FLT_MAX, none};
    if (threadIdx.x < gridDim.x) {
        mine.value = __ldcg(&row_candidates[threadIdx.x].value);
        mine.index = __ldcg(&row_candidates[threadIdx.x].index);
    }
    const ArgmaxCandidate overall = block_best(mine, none);
    if (threadIdx.x == 0) {
        result[row] = overall.index;
        scratch[row].arrivals = 0;  // ready for the next call
    }
}

}  // namespace

void rms_norm(const float* x, const float* weight, float* out, size_t tokens, size_t size,
              float epsilon, cudaStream_t stream, void* activation_blocks,
              const int32_t* source_rows) {
    if (tokens == 0) return;
    if (activation_blocks != nullptr) require_whole_activation_blocks(size);
    launch_kernel(rms_norm_kernel, static_cast<unsigned>(tokens), kNormThreads, 0, stream, x,
                  weight, out, size, epsilon, static_cast<ActivationBlock*>(activation_blocks),
                  source_rows);
    check_launch("rms_norm");
}

void rope(float* heads, size_t tokens, size_t head_count, size_t head_dim, const int32_t* positions,
          const DeviceRope& params, cudaStream_t stream) {
    const size_t total = tokens * head_count * (params.rotated_dims / 2);
    if (total == 0) return;
    launch_kernel(rope_kernel, blocks_for(total), kThreads, 0, stream, heads, tokens, head_count,
                  head_dim, positions, params);
    check_launch("rope");
}

void swiglu(float* gate, const float* up, size_t count, cudaStream_t stream) {
    if (count == 0) return;
    launch_kernel(gated_kernel<false>, blocks_for(count), kThreads, 0, stream, gate, up, count);
    check_launch("swiglu");
}

void swiglu_quantize(float* gate, const float* up, size_t tokens, size_t size,
                     void* activation_blocks, cudaStream_t stream) {
    require_whole_activation_blocks(size);
    const size_t total = tokens * size;
    if (total == 0) return;
    launch_kernel(gated_quantize_kernel<false>, blocks_for(total), kThreads, 0, stream, gate, up,
                  total, static_cast<ActivationBlock*>(activation_blocks));
    check_launch("swiglu_quantize");
}

void geglu(float* gate, const float* up, size_t count, cudaStream_t stream) {
    if (count == 0) return;
    launch_kernel(gated_kernel<true>, blocks_for(count), kThreads, 0, stream, gate, up, count);
    check_launch("geglu");
}

void geglu_quantize(float* gate, const float* up, size_t tokens, size_t size,
                    void* activation_blocks, cudaStream_t stream) {
    require_whole_activation_blocks(size);
    const size_t total = tokens * size;
    if (total == 0) return;
    launch_kernel(gated_quantize_kernel<true>, blocks_for(total), kThreads, 0, stream, gate, up,
                  total, static_cast<ActivationBlock*>(activation_blocks));
    check_launch("geglu_quantize");
}

void rms_norm_add(const float* source, const float* weight, float* x, size_t tokens, size_t size,
                  float epsilon, cudaStream_t stream, const float* next_weight, float* next_out,
                  void* activation_blocks) {
    if (tokens == 0) return;
    if (activation_blocks != nullptr) require_whole_activation_blocks(size);
    launch_kernel(rms_norm_add_kernel, static_cast<unsigned>(tokens), kThreads, 0, stream, source,
                  weight, x, size, epsilon, next_weight, next_out,
                  static_cast<ActivationBlock*>(activation_blocks));
    check_launch("rms_norm_add");
}

void scale(float* values, size_t count, float factor, cudaStream_t stream) {
    if (count == 0) return;
    launch_kernel(scale_kernel, blocks_for(count), kThreads, 0, stream, values, count, factor);
    check_launch("scale");
}

void softcap(float* values, size_t count, float cap, cudaStream_t stream) {
    if (count == 0) return;
    launch_kernel(softcap_kernel, blocks_for(count), kThreads, 0, stream, values, count, cap);
    check_launch("softcap");
}

void add(float* destination, const float* source, size_t count, cudaStream_t stream) {
    if (count == 0) return;
    launch_kernel(add_kernel, blocks_for(count), kThreads, 0, stream, destination, source, count);
    check_launch("add");
}

size_t argmax_scratch_bytes(size_t rows) { return rows * sizeof(ArgmaxRowScratch); }

void argmax(const float* values, size_t rows, size_t count, int32_t* result, void* scratch,
            cudaStream_t stream) {
    if (rows == 0) return;
    if (count == 0 || count >= static_cast<size_t>(INT32_MAX))
        throw Error(fmt::format("argmax over rows of {} values", count));
    launch_kernel(argmax_kernel, dim3(kArgmaxBlocks, static_cast<unsigned>(rows)), kArgmaxThreads,
                  0, stream, values, count, result, static_cast<ArgmaxRowScratch*>(scratch));
    check_launch("argmax");
}

}  // namespace llcuda::cuda
