// Writing keys and values into the KV cache (F16, or Q8_0 in GGUF's block layout), alone or
// fused with the RoPE rotation of the queries and keys that precedes it in every layer: a
// decode step then spends one launch where it spent four.
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

// One block per head and token: a query head is rotated in place; a KV head's key is rotated,
// then its key and value are stored (Q8_0 blocks lie within a head: head_dim % 32 == 0).
__global__ void rope_and_store_kernel(float* queries, float* keys, const float* values,
                                      AttentionShape shape, const int32_t* positions,
                                      DeviceRope params, KvCacheView cache) {
    begin_after_previous_kernel();
    const size_t head = blockIdx.x;
    const size_t token = blockIdx.y;
    const int position = positions[token];
    const size_t pairs = params.rotated_dims / 2;
    const size_t kv_dim = shape.kv_head_count * shape.head_dim;
    if (head < shape.head_count) {
        float* query = queries + (token * shape.head_count + head) * shape.head_dim;
        for (size_t pair = threadIdx.x; pair < pairs; pair += blockDim.x)
            rope_rotate_pair(query, pair, position, params);
        return;
    }
    const size_t offset = (head - shape.head_count) * shape.head_dim;
    float* key = keys + token * kv_dim + offset;
    const float* value = values + token * kv_dim + offset;
    for (size_t pair = threadIdx.x; pair < pairs; pair += blockDim.x)
        rope_rotate_pair(key, pair, position, params);
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

void rope_and_store_kv(float* queries, float* keys, const float* values, size_t tokens,
                       const AttentionShape& shape, const int32_t* positions,
                       const DeviceRope& params, const KvCacheView& cache, cudaStream_t stream) {
    if (tokens == 0) return;
    const size_t kv_dim = shape.kv_head_count * shape.head_dim;
    kv_row_bytes(cache.type, kv_dim);  // validates the shape
    if (cache.type == DType::Q8_0 && shape.head_dim % 32 != 0) {
        // Q8_0 blocks would straddle heads: the unfused kernels handle whole rows.
        rope(queries, tokens, shape.head_count, shape.head_dim, positions, params, stream);
        rope(keys, tokens, shape.kv_head_count, shape.head_dim, positions, params, stream);
        store_kv(keys, values, tokens, kv_dim, cache.rows, cache.type, cache.keys, cache.values,
                 stream);
        return;
    }
    const dim3 grid(static_cast<unsigned>(shape.head_count + shape.kv_head_count),
                    static_cast<unsigned>(tokens));
    launch_kernel(rope_and_store_kernel, grid, 128, 0, stream, queries, keys, values, shape,
                  positions, params, cache);
    check_launch("rope_and_store_kv");
}

}  // namespace llcuda::cuda
