// Prompt attention on tensor cores (FlashAttention-2's schedule): a block takes 64 query tokens
// of one head, four warps of 16 tokens each, and walks the cache rows those tokens see in tiles
// of 64. Each tile's keys and values go to shared memory as halves; a warp computes its 16x64
// scores with mma.sync (F16 inputs, F32 sums), masks the rows its tokens do not see, updates
// the online softmax in registers and adds P.V with mma.sync again, P going straight from the
// score registers into the next product's operands. No score matrix is stored. The one block
// per (head, token) kernel of attention.cu spent 36% of an 8B pp512 and 83% of pp4096 reading
// each cache row once per query token (docs/bench "Where a prompt goes"); here a row is read
// once per 64 tokens.
//
// Tokens of one tile may belong to different sequences (continuous batching): each token has
// its own visible rows, and cache rows that no token of the tile sees (another slot's, never
// written) are zeroed instead of read, so that their contents cannot reach the sums.
#include <cuda_fp16.h>
#include <fmt/format.h>

#include <climits>
#include <cmath>

#include "backend/cuda/cuda_ops.hpp"
#include "backend/cuda/kernels/kernel_launch.cuh"
#include "backend/cuda/kernels/kv_cache_read.cuh"
#include "core/error.hpp"

namespace llcuda::cuda {
namespace {

constexpr int kQueryTile = 64;  // query tokens per block, 16 per warp
constexpr int kKeyTile = 64;    // cache rows per step
constexpr int kFlashThreads = 128;
constexpr int kKeyStride = kKeyTile + 8;  // halves per row of the transposed values (padding
                                          // against bank conflicts)

template <int kDim>
__host__ __device__ constexpr int
row_stride() {  // halves per row of the queries and keys in shared memory
    return kDim + 8;
}

template <int kDim>
__host__ __device__ constexpr size_t flash_shared_bytes() {
    return (static_cast<size_t>(kQueryTile + kKeyTile) * row_stride<kDim>() +
            static_cast<size_t>(kDim) * kKeyStride) *
           sizeof(__half);
}

__device__ __forceinline__ uint32_t load_pair(const __half* p) {
    return *reinterpret_cast<const uint32_t*>(p);
}

__device__ __forceinline__ uint32_t pack_pair(float low, float high) {
    const __half2 pair = __floats2half2_rn(low, high);
    return *reinterpret_cast<const uint32_t*>(&pair);
}

// d += a (16x16, row major) * b (16x8, column major); PTX's fragment layout for m16n8k16.
__device__ __forceinline__ void mma_16x8x16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                            uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ float group_max(float value) {  // over the 4 threads of a row
    value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, 1));
    return fmaxf(value, __shfl_xor_sync(0xffffffffu, value, 2));
}

__device__ __forceinline__ float group_sum(float value) {
    value += __shfl_xor_sync(0xffffffffu, value, 1);
    return value + __shfl_xor_sync(0xffffffffu, value, 2);
}

// Rows r0..r0 + kKeyTile - 1 of this head's keys into keys_tile (row major) and values into
// values_tile (transposed: a row per head element, so P.V's operands are adjacent pairs). Rows
// past `end` or unused by the tile are zeros.
template <DType T, int kDim>
__device__ __forceinline__ void load_kv_tile(const uint8_t* keys, const uint8_t* values,
                                             size_t row_bytes, int kv_offset, int head_dim, int r0,
                                             int end, const bool* row_used, __half* keys_tile,
                                             __half* values_tile) {
    constexpr int kStride = row_stride<kDim>();
    const int tid = threadIdx.x;
    if (T == DType::F16 && head_dim % 8 == 0) {
        const int vectors = head_dim / 8;
        for (int i = tid; i < kKeyTile * vectors; i += kFlashThreads) {
            const int j = i / vectors, v = i % vectors;
            const int row = r0 + j;
            uint4 key{}, value{};
            if (row < end && row_used[j]) {
                const size_t offset = static_cast<size_t>(row) * row_bytes +
                                      static_cast<size_t>(kv_offset + 8 * v) * sizeof(__half);
                key = *reinterpret_cast<const uint4*>(keys + offset);
                value = *reinterpret_cast<const uint4*>(values + offset);
            }
            *reinterpret_cast<uint4*>(keys_tile + j * kStride + 8 * v) = key;
            const auto* halves = reinterpret_cast<const __half*>(&value);
#pragma unroll
            for (int e = 0; e < 8; ++e) values_tile[(8 * v + e) * kKeyStride + j] = halves[e];
        }
        return;
    }
    for (int i = tid; i < kKeyTile * head_dim; i += kFlashThreads) {
        const int j = i / head_dim, d = i % head_dim;
        const int row = r0 + j;
        const bool used = row < end && row_used[j];
        keys_tile[j * kStride + d] =
            __float2half(used ? kv_at<T>(keys, row_bytes, row, kv_offset + d) : 0.0f);
        values_tile[d * kKeyStride + j] =
            __float2half(used ? kv_at<T>(values, row_bytes, row, kv_offset + d) : 0.0f);
    }
}

// kDim: head_dim rounded up to 64, 128 or 256 (the padding is zeros in queries and keys).
template <DType T, int kDim>
__global__ void __launch_bounds__(kFlashThreads)
    flash_prefill_kernel(const float* queries, const uint8_t* keys, const uint8_t* values,
                         size_t row_bytes, const int32_t* positions, const int32_t* cache_rows,
                         int tokens, int head_count, int kv_head_count, int head_dim,
                         float score_scale_log2, int window, float* out) {
    constexpr int kStride = row_stride<kDim>();
    constexpr int kDimTiles = kDim / 8;
    constexpr int kKeyTiles = kKeyTile / 8;
    extern __shared__ __align__(16) unsigned char shared[];
    __half* query_tile = reinterpret_cast<__half*>(shared);
    __half* keys_tile = query_tile + kQueryTile * kStride;
    __half* values_tile = keys_tile + kKeyTile * kStride;
    __shared__ int first_row[kQueryTile], last_row[kQueryTile];
    __shared__ int bounds[4];  // first row, last row, least and greatest sequence start
    __shared__ bool row_used[kKeyTile];

    const int tid = threadIdx.x;
    const int lane = tid % 32, warp = tid / 32;
    const int tile = static_cast<int>(gridDim.x) - 1 - static_cast<int>(blockIdx.x);  // long first
    const int head = blockIdx.y;
    const int kv_offset = (head / (head_count / kv_head_count)) * head_dim;
    const int first_token = tile * kQueryTile;

    constexpr int kSharedWords = static_cast<int>(flash_shared_bytes<kDim>() / sizeof(uint32_t));
    for (int i = tid; i < kSharedWords; i += kFlashThreads)
        reinterpret_cast<uint32_t*>(shared)[i] = 0;
    if (tid == 0) {
        bounds[0] = INT_MAX;
        bounds[1] = -1;
        bounds[2] = INT_MAX;
        bounds[3] = INT_MIN;
    }
    if (tid < kKeyTile) row_used[tid] = true;
    begin_after_previous_kernel();
    __syncthreads();
    if (tid < kQueryTile) {
        // The token's sequence starts at cache row cache_rows[t] - positions[t]; a sliding
        // window starts `skipped` positions later.
        const int t = first_token + tid;
        int first = INT_MAX, last = -1;
        if (t < tokens) {
            const int position = positions[t];
            last = cache_rows[t];
            const int visible = position + 1;
            const int skipped = window > 0 && visible > window ? visible - window : 0;
            const int start = last - position;
            first = start + skipped;
            atomicMin(&bounds[0], first);
            atomicMax(&bounds[1], last);
            atomicMin(&bounds[2], start);
            atomicMax(&bounds[3], start);
        }
        first_row[tid] = first;
        last_row[tid] = last;
    }
    for (int i = tid; i < kQueryTile * head_dim; i += kFlashThreads) {
        const int r = i / head_dim, d = i % head_dim;
        const int t = first_token + r;
        if (t < tokens)
            query_tile[r * kStride + d] =
                __float2half(queries[(static_cast<size_t>(t) * head_count + head) * head_dim + d] *
                             score_scale_log2);
    }
    __syncthreads();

    const int begin = bounds[0], end = bounds[1] + 1;  // rows [begin, end)
    // One sequence: every row from its start to its last token's was written.
    const bool one_sequence = bounds[2] == bounds[3];
    const int group = lane / 4, in_group = lane % 4;
    const int row0 = warp * 16 + group;  // this thread's query rows: row0 and row0 + 8
    const int first0 = first_row[row0], last0 = last_row[row0];
    const int first1 = first_row[row0 + 8], last1 = last_row[row0 + 8];

    float acc[kDimTiles][4];
#pragma unroll
    for (int n = 0; n < kDimTiles; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
    float max0 = -INFINITY, max1 = -INFINITY, sum0 = 0.0f, sum1 = 0.0f;

    for (int r0 = begin; r0 < end; r0 += kKeyTile) {
        // Also the barrier before this tile overwrites the last one's keys and values.
        const bool needed = __syncthreads_or(tid < kQueryTile && first_row[tid] < r0 + kKeyTile &&
                                             last_row[tid] >= r0);
        if (!needed) continue;
        if (!one_sequence) {
            if (tid < kKeyTile) {
                const int row = r0 + tid;
                bool used = false;
                for (int i = 0; i < kQueryTile; ++i)
                    used = used || (first_row[i] <= row && row <= last_row[i]);
                row_used[tid] = used;
            }
            __syncthreads();
        }
        load_kv_tile<T, kDim>(keys, values, row_bytes, kv_offset, head_dim, r0, end, row_used,
                              keys_tile, values_tile);
        __syncthreads();

        float scores[kKeyTiles][4];
#pragma unroll
        for (int j = 0; j < kKeyTiles; ++j)
            scores[j][0] = scores[j][1] = scores[j][2] = scores[j][3] = 0.0f;
#pragma unroll
        for (int k = 0; k < kDim / 16; ++k) {
            if (k * 16 >= head_dim) break;
            const __half* q = query_tile + row0 * kStride + k * 16 + 2 * in_group;
            const uint32_t a[4] = {load_pair(q), load_pair(q + 8 * kStride), load_pair(q + 8),
                                   load_pair(q + 8 * kStride + 8)};
#pragma unroll
            for (int j = 0; j < kKeyTiles; ++j) {
                const __half* key = keys_tile + (j * 8 + group) * kStride + k * 16 + 2 * in_group;
                mma_16x8x16(scores[j], a, load_pair(key), load_pair(key + 8));
            }
        }
        float tile_max0 = -INFINITY, tile_max1 = -INFINITY;
#pragma unroll
        for (int j = 0; j < kKeyTiles; ++j) {
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const int row = r0 + j * 8 + 2 * in_group + e;
                if (row < first0 || row > last0) scores[j][e] = -INFINITY;
                if (row < first1 || row > last1) scores[j][2 + e] = -INFINITY;
                tile_max0 = fmaxf(tile_max0, scores[j][e]);
                tile_max1 = fmaxf(tile_max1, scores[j][2 + e]);
            }
        }
        const float new_max0 = fmaxf(max0, group_max(tile_max0));
        const float new_max1 = fmaxf(max1, group_max(tile_max1));
        // A row that has seen nothing yet keeps -inf; its weights are then exp2(-inf) = 0.
        const float base0 = new_max0 == -INFINITY ? 0.0f : new_max0;
        const float base1 = new_max1 == -INFINITY ? 0.0f : new_max1;
        const float correction0 = exp2f(max0 - base0), correction1 = exp2f(max1 - base1);
        max0 = new_max0;
        max1 = new_max1;
        sum0 *= correction0;
        sum1 *= correction1;
#pragma unroll
        for (int n = 0; n < kDimTiles; ++n) {
            acc[n][0] *= correction0;
            acc[n][1] *= correction0;
            acc[n][2] *= correction1;
            acc[n][3] *= correction1;
        }
        // The weights of a score tile, as halves: the accumulator layout of two adjacent 8-key
        // tiles is the operand layout of one 16-key step of P.V.
        uint32_t weights[kKeyTiles][2];
#pragma unroll
        for (int j = 0; j < kKeyTiles; ++j) {
            const float w0 = exp2f(scores[j][0] - base0), w1 = exp2f(scores[j][1] - base0);
            const float w2 = exp2f(scores[j][2] - base1), w3 = exp2f(scores[j][3] - base1);
            sum0 += w0 + w1;
            sum1 += w2 + w3;
            weights[j][0] = pack_pair(w0, w1);
            weights[j][1] = pack_pair(w2, w3);
        }
#pragma unroll
        for (int k = 0; k < kKeyTile / 16; ++k) {
            const uint32_t a[4] = {weights[2 * k][0], weights[2 * k][1], weights[2 * k + 1][0],
                                   weights[2 * k + 1][1]};
#pragma unroll
            for (int n = 0; n < kDimTiles; ++n) {
                if (n * 8 >= head_dim) break;
                const __half* value =
                    values_tile + (n * 8 + group) * kKeyStride + k * 16 + 2 * in_group;
                mma_16x8x16(acc[n], a, load_pair(value), load_pair(value + 8));
            }
        }
    }

    sum0 = group_sum(sum0);
    sum1 = group_sum(sum1);
    const int t0 = first_token + row0, t1 = t0 + 8;
#pragma unroll
    for (int n = 0; n < kDimTiles; ++n) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
            const int d = n * 8 + 2 * in_group + e;
            if (d >= head_dim) continue;
            if (t0 < tokens && sum0 > 0.0f)
                out[(static_cast<size_t>(t0) * head_count + head) * head_dim + d] =
                    acc[n][e] / sum0;
            if (t1 < tokens && sum1 > 0.0f)
                out[(static_cast<size_t>(t1) * head_count + head) * head_dim + d] =
                    acc[n][2 + e] / sum1;
        }
    }
}

template <DType T, int kDim>
bool launch_flash(const float* queries, const void* keys, const void* values,
                  const int32_t* positions, const int32_t* cache_rows, size_t tokens,
                  const AttentionShape& shape, float* out, cudaStream_t stream) {
    const auto kernel = flash_prefill_kernel<T, kDim>;
    constexpr size_t shared_bytes = flash_shared_bytes<kDim>();
    int device = 0, available = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&available, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) !=
            cudaSuccess ||
        static_cast<size_t>(available) < shared_bytes + 1024)
        return false;
    if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(shared_bytes)) != cudaSuccess)
        return false;
    const float scale =
        shape.scale != 0.0f ? shape.scale : 1.0f / sqrtf(static_cast<float>(shape.head_dim));
    const dim3 grid(static_cast<unsigned>((tokens + kQueryTile - 1) / kQueryTile),
                    static_cast<unsigned>(shape.head_count));
    launch_kernel(kernel, grid, kFlashThreads, shared_bytes, stream, queries,
                  static_cast<const uint8_t*>(keys), static_cast<const uint8_t*>(values),
                  kv_row_bytes(T, shape.kv_head_count * shape.head_dim), positions, cache_rows,
                  static_cast<int>(tokens), static_cast<int>(shape.head_count),
                  static_cast<int>(shape.kv_head_count), static_cast<int>(shape.head_dim),
                  scale * static_cast<float>(M_LOG2E), static_cast<int>(shape.window), out);
    check_launch("flash attention");
    return true;
}

template <DType T>
bool launch_flash_for(const float* queries, const void* keys, const void* values,
                      const int32_t* positions, const int32_t* cache_rows, size_t tokens,
                      const AttentionShape& shape, float* out, cudaStream_t stream) {
    if (shape.head_dim <= 64)
        return launch_flash<T, 64>(queries, keys, values, positions, cache_rows, tokens, shape, out,
                                   stream);
    if (shape.head_dim <= 128)
        return launch_flash<T, 128>(queries, keys, values, positions, cache_rows, tokens, shape,
                                    out, stream);
    return launch_flash<T, 256>(queries, keys, values, positions, cache_rows, tokens, shape, out,
                                stream);
}

}  // namespace

bool flash_prefill_attention(const float* queries, const void* key_cache, const void* value_cache,
                             DType type, const int32_t* positions, const int32_t* cache_rows,
                             size_t tokens, const AttentionShape& shape, float* out,
                             cudaStream_t stream) {
    if (tokens == 0 || shape.head_dim > 256 || shape.kv_head_count == 0 ||
        shape.head_count % shape.kv_head_count != 0 || (type != DType::F16 && type != DType::Q8_0))
        return false;
    if (type == DType::F16)
        return launch_flash_for<DType::F16>(queries, key_cache, value_cache, positions, cache_rows,
                                            tokens, shape, out, stream);
    return launch_flash_for<DType::Q8_0>(queries, key_cache, value_cache, positions, cache_rows,
                                         tokens, shape, out, stream);
}

}  // namespace llcuda::cuda
