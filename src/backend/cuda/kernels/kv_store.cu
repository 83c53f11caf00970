// Writing keys and values into the KV cache (F16, or Q8_0 in GGUF's block layout), alone or
// fused with the RoPE rotation of the queries and keys that precedes it in every layer (and with
// the biases and QK-norm some architectures put before RoPE): a decode step then spends one
// launch where it spent four.
#include <cuda_fp16.h>
#include <fmt/format.h>

#include "backend/cuda/cuda_ops.hpp"
#include "backend/cuda/kernels/kernel_launch.cuh"
#include "backend/cuda/kernels/rope_rotation.cuh"
#include "backend/cuda/kernels/warp_reduce.cuh"
#include "core/error.hpp"
#include "core/quant/blocks.hpp"

namespace llcuda::cuda {
namespace {

// Lane `lane`'s value of one 32-value Q8_0 block (all 32 lanes call it); rounding as GGUF's
// Q8_0 reference quantizer.
__device__ __forceinline__ void store_q8_0_value(float value, int lane, uint8_t* block) {
    const float amax = warp_max(fabsf(value));
    const float d = amax / 127.0f;
    const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
    const int q = max(-127, min(127, static_cast<int>(roundf(value * inverse))));
    reinterpret_cast<int8_t*>(block + 2)[lane] = static_cast<int8_t>(q);
    if (lane == 0) *reinterpret_cast<__half*>(block) = __float2half(d);
}

__device__ __forceinline__ uint8_t* q8_0_block(void* cache, int row, size_t blocks_per_row,
                                               size_t block) {
    return static_cast<uint8_t*>(cache) +
           (static_cast<size_t>(row) * blocks_per_row + block) * sizeof(BlockQ8_0);
}

__global__ void store_f16_kernel(const float* source, size_t tokens, size_t kv_dim,
                                 const int32_t* cache_rows, __half* cache) {
    begin_after_previous_kernel();
    const size_t index = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (index >= tokens * kv_dim) return;
    const size_t token = index / kv_dim;
    const size_t i = index % kv_dim;
    cache[static_cast<size_t>(cache_rows[token]) * kv_dim + i] = __float2half(source[index]);
}

// One warp per 32-value block.
__global__ void store_q8_0_kernel(const float* source, size_t tokens, size_t kv_dim,
                                  const int32_t* cache_rows, uint8_t* cache) {
    begin_after_previous_kernel();
    const size_t blocks_per_row = kv_dim / 32;
    const size_t block_index = static_cast<size_t>(blockIdx.x) * blockDim.y + threadIdx.y;
    if (block_index >= tokens * blocks_per_row) return;
    const size_t token = block_index / blocks_per_row;
    const size_t block_in_row = block_index % blocks_per_row;
    const int lane = threadIdx.x;
    store_q8_0_value(source[token * kv_dim + block_in_row * 32 + lane], lane,
                     q8_0_block(cache, cache_rows[token], blocks_per_row, block_in_row));
}

void store_one(const float* source, size_t tokens, size_t kv_dim, const int32_t* cache_rows,
               DType type, void* cache, cudaStream_t stream) {
    if (type == DType::F16) {
        const size_t total = tokens * kv_dim;
        launch_kernel(store_f16_kernel, static_cast<unsigned>((total + 255) / 256), 256, 0, stream,
                      source, tokens, kv_dim, cache_rows, static_cast<__half*>(cache));
    } else {
        const size_t total = tokens * (kv_dim / 32);
        launch_kernel(store_q8_0_kernel, static_cast<unsigned>((total + 7) / 8), dim3(32, 8), 0,
                      stream, source, tokens, kv_dim, cache_rows, static_cast<uint8_t*>(cache));
    }
}

// The sum of `value` over the block (blockDim.x a multiple of 32, at most 1024), for every
// thread.
__device__ float head_sum(float value) {
    __shared__ float partial[32];
    const int lane = threadIdx.x % 32;
    const int warp = threadIdx.x / 32;
    value = warp_sum(value);
    if (lane == 0) partial[warp] = value;
    __syncthreads();
    value = lane < static_cast<int>(blockDim.x / 32) ? partial[lane] : 0.0f;
    value = warp_sum(value);
    __syncthreads();  // partial is reused
    return value;
}

// A head's prologue in place: its bias added, then its RMSNorm (either may be null), as the CPU's
// add_bias_in_place then rms_norm (weight * (scale * x)). Ends with the block synchronised, so
// that the rotation may read any element.
__device__ void prepare_head(float* head, const float* bias, const float* norm, size_t head_dim,
                             float epsilon) {
    if (bias == nullptr && norm == nullptr) return;  // the same for the whole block
    float squares = 0.0f;
    for (size_t i = threadIdx.x; i < head_dim; i += blockDim.x) {
        const float value = bias != nullptr ? head[i] + bias[i] : head[i];
        head[i] = value;
        squares += value * value;
    }
    if (norm != nullptr) {
        const float mean = head_sum(squares) / static_cast<float>(head_dim);
        const float scale = 1.0f / sqrtf(mean + epsilon);
        for (size_t i = threadIdx.x; i < head_dim; i += blockDim.x)
            head[i] = norm[i] * (scale * head[i]);
    }
    __syncthreads();
}

// One block per head and token: a query head is rotated in place; a KV head's key is rotated,
// then its key and value are stored (Q8_0 blocks lie within a head: head_dim % 32 == 0). The
// prologue's biases and norms come first. Without kStore, queries and keys are only rotated and
// values only get their bias, for store_kv to follow.
template <bool kStore>
__global__ void rope_and_store_kernel(float* queries, float* keys, float* values,
                                      AttentionShape shape, const int32_t* positions,
                                      DeviceRope params, KvCacheView cache, HeadPrologue prologue) {
    begin_after_previous_kernel();
    const size_t head = blockIdx.x;
    const size_t token = blockIdx.y;
    const int position = positions[token];
    const size_t pairs = params.rotated_dims / 2;
    const size_t kv_dim = shape.kv_head_count * shape.head_dim;
    auto bias_of = [&](const float* bias, size_t offset) {
        return bias != nullptr ? bias + offset : nullptr;
    };
    if (head < shape.head_count) {
        float* query = queries + (token * shape.head_count + head) * shape.head_dim;
        prepare_head(query, bias_of(prologue.query_bias, head * shape.head_dim),
                     prologue.query_norm, shape.head_dim, prologue.epsilon);
        for (size_t pair = threadIdx.x; pair < pairs; pair += blockDim.x)
            rope_rotate_pair(query, pair, position, params);
        return;
    }
    const size_t offset = (head - shape.head_count) * shape.head_dim;
    float* key = keys + token * kv_dim + offset;
    float* value = values + token * kv_dim + offset;
    prepare_head(key, bias_of(prologue.key_bias, offset), prologue.key_norm, shape.head_dim,
                 prologue.epsilon);
    prepare_head(value, bias_of(prologue.value_bias, offset), nullptr, shape.head_dim,
                 prologue.epsilon);
    for (size_t pair = threadIdx.x; pair < pairs; pair += blockDim.x)
        rope_rotate_pair(key, pair, position, params);
    if (!kStore) return;
    __syncthreads();  // the rotated key is read by other threads below
    const int row = cache.rows[token];
    if (cache.type == DType::F16) {
        auto* key_row = static_cast<__half*>(cache.keys) + static_cast<size_t>(row) * kv_dim;
        auto* value_row = static_cast<__half*>(cache.values) + static_cast<size_t>(row) * kv_dim;
        for (size_t i = threadIdx.x; i < shape.head_dim; i += blockDim.x) {
            key_row[offset + i] = __float2half(key[i]);
            value_row[offset + i] = __float2half(value[i]);
        }
        return;
    }
    const size_t blocks_per_row = kv_dim / 32;
    const int head_blocks = static_cast<int>(shape.head_dim / 32);
    const int lane = threadIdx.x % 32;
    for (int b = threadIdx.x / 32; b < 2 * head_blocks; b += blockDim.x / 32) {
        const bool is_key = b < head_blocks;
        const int block = is_key ? b : b - head_blocks;
        store_q8_0_value((is_key ? key : value)[block * 32 + lane], lane,
                         q8_0_block(is_key ? cache.keys : cache.values, row, blocks_per_row,
                                    offset / 32 + block));
    }
}

}  // namespace

size_t kv_row_bytes(DType type, size_t kv_dim) {
    if (type != DType::F16 && type != DType::Q8_0) {
        throw Error(fmt::format("the KV cache can be f16 or q8_0, not {}", dtype_name(type)));
    }
    if (type == DType::Q8_0 && kv_dim % 32 != 0) {
        throw Error(fmt::format(
            "a Q8_0 KV cache needs rows of whole 32-value blocks; this model's are {} values "
            "(use --kv-type f16)",
            kv_dim));
    }
    return row_bytes(type, kv_dim);
}

void store_kv(const float* keys, const float* values, size_t tokens, size_t kv_dim,
              const int32_t* cache_rows, DType type, void* key_cache, void* value_cache,
              cudaStream_t stream) {
    if (tokens == 0) return;
    kv_row_bytes(type, kv_dim);  // validates the shape
    store_one(keys, tokens, kv_dim, cache_rows, type, key_cache, stream);
    store_one(values, tokens, kv_dim, cache_rows, type, value_cache, stream);
    check_launch("store_kv");
}

void rope_and_store_kv(float* queries, float* keys, float* values, size_t tokens,
                       const AttentionShape& shape, const int32_t* positions,
                       const DeviceRope& params, const KvCacheView& cache, cudaStream_t stream,
                       const HeadPrologue& prologue) {
    if (tokens == 0) return;
    const size_t kv_dim = shape.kv_head_count * shape.head_dim;
    kv_row_bytes(cache.type, kv_dim);  // validates the shape
    const dim3 grid(static_cast<unsigned>(shape.head_count + shape.kv_head_count),
                    static_cast<unsigned>(tokens));
    const bool whole_blocks = cache.type != DType::Q8_0 || shape.head_dim % 32 == 0;
    if (!whole_blocks && !prologue.empty()) {
        // Q8_0 blocks would straddle heads: the heads are prepared and rotated here, and the
        // rows stored whole.
        launch_kernel(rope_and_store_kernel<false>, grid, 128, 0, stream, queries, keys, values,
                      shape, positions, params, cache, prologue);
        store_kv(keys, values, tokens, kv_dim, cache.rows, cache.type, cache.keys, cache.values,
                 stream);
        check_launch("rope_and_store_kv");
        return;
    }
    if (!whole_blocks) {
        // Q8_0 blocks would straddle heads: the unfused kernels handle whole rows.
        rope(queries, tokens, shape.head_count, shape.head_dim, positions, params, stream);
        rope(keys, tokens, shape.kv_head_count, shape.head_dim, positions, params, stream);
        store_kv(keys, values, tokens, kv_dim, cache.rows, cache.type, cache.keys, cache.values,
                 stream);
        return;
    }
    launch_kernel(rope_and_store_kernel<true>, grid, 128, 0, stream, queries, keys, values, shape,
                  positions, params, cache, prologue);
    check_launch("rope_and_store_kv");
}

}  // namespace llcuda::cuda
