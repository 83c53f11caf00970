// Matrix-vector products for decode, up to 8 tokens sharing one read of the weights.
//
// Quantized rows are read in chunks of 32 sub-blocks (32 elements each): the warp copies a
// chunk into shared memory with 16-byte asynchronous copies, a chunk ahead of the one it
// computes, so that every format (Q6_K's 210-byte blocks are only 2-byte aligned) reads
// memory in full sectors with enough bytes in flight to approach the bandwidth limit. Each
// lane then dots one sub-block with the int8 activations by dp4a, applying the scales once
// per 16 elements. Q4_K, whose blocks keep 16-byte alignment, skips the staging: its lanes load
// 16-byte vectors straight into registers (see matvec_q4_k_kernel). Short matrices spread a
// row over several warps so that the grid fills the GPU; the split depends only on the matrix
// shape (and on QkvRopeStore's role for the matrix), so a token's result does not depend on how
// many tokens share the launch. One launch
// can serve up to three matrices on the same input (Q, K and V; gate and up) of one type, or
// Q4_K and Q6_K. These kernels issue an instruction for every few bytes they read, so their
// speed depends on keeping instructions few as much as on memory. What a block does after its
// last weight matters too: a decode step is a chain of kernels whose blocks keep their place on
// the SM until they end, so the block's end does no memory round trip it can do earlier (a
// residual add's old output, and for Q, K and V the RoPE angle and cache place of QkvRopeStore).
#include <fmt/format.h>

#include <algorithm>

#include "backend/cuda/cuda_ops.hpp"
#include "backend/cuda/kernels/activation_quant.cuh"
#include "backend/cuda/kernels/kernel_launch.cuh"
#include "backend/cuda/kernels/rope_rotation.cuh"
#include "backend/cuda/kernels/warp_reduce.cuh"
#include "core/error.hpp"

namespace llcuda::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;
// Chunks in flight per warp. Measured with llcuda_matvec_bench on the H100, two stages were as
// fast as four or six for Q6_K and Q8_0 (Llama-3-8B shapes), with less shared memory.
constexpr int kStages = 2;
constexpr int kMaxTargets = static_cast<int>(kMaxMatvecGroup);

__global__ void quantize_activations_kernel(const float* x, size_t sub_blocks_per_token,
                                            size_t total_sub_blocks, ActivationBlock* blocks) {
    begin_after_previous_kernel();
    const size_t index = (static_cast<size_t>(blockIdx.x) * blockDim.y + threadIdx.y);
    if (index >= total_sub_blocks) return;
    const size_t token = index / sub_blocks_per_token;
    const size_t sub = index % sub_blocks_per_token;
    quantize_warp_block(x[token * sub_blocks_per_token * 32 + sub * 32 + threadIdx.x],
                        blocks[index]);
}

// Formats without offsets (value = scale * q) skip the offset terms.
template <bool kHasOffset>
__device__ __forceinline__ float dot(const SubBlock& w, const ActivationBlock& a) {
    int low = 0, high = 0;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        low = __dp4a(w.q[k], a.q[k], low);
        high = __dp4a(w.q[4 + k], a.q[4 + k], high);
    }
    float result =
        a.d * (w.scale[0] * static_cast<float>(low) + w.scale[1] * static_cast<float>(high));
    if (kHasOffset) result += w.offset[0] * a.sum[0] + w.offset[1] * a.sum[1];
    return result;
}

// What a launch does with a matrix's rows: writes them, or (QkvRopeStore) rotates query rows,
// rotates key rows into the cache, or writes value rows into it.
enum class RowRole { Plain, Query, Key, Value };

// One matrix of a launch: its rows are blocks [first_block, next target's first_block).
struct MatvecTarget {
    const uint8_t* data;
    size_t row_stride;
    float* out;
    int rows;
    int warps_per_row;
    int first_block;
    RowRole role;
};

struct MatvecTargets {
    MatvecTarget target[kMaxTargets];
    int count;
};

// A launch's QkvRopeStore, for this part's tokens.
struct RopeWork {
    const int32_t* positions;
    const int32_t* cache_rows;
    DeviceRope rope;
    int head_dim;
    int kv_dim;
    __half* key_cache;
    __half* value_cache;
};

// How a launch finishes its rows.
struct RowsFinish {
    bool accumulate;  // added to the output (a residual add)
    RopeWork rope;    // for targets with a role other than Plain
};

// Byte ranges (16-byte aligned, sizes multiples of 16) for the L2 cache to fetch ahead.
struct L2Ranges {
    const uint8_t* begin[kMaxMatvecGroup];
    unsigned bytes[kMaxMatvecGroup];
    unsigned total;
};

// This block's share of `ranges`, asked of the L2 cache once the block's own weights have
// arrived: the requests then fill the memory's idle time between this launch and the next
// instead of competing with this launch's reads.
__device__ __forceinline__ void prefetch_share(const L2Ranges& ranges) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    if (ranges.total == 0 || threadIdx.x != 0 || threadIdx.y != 0) return;
    const unsigned share = ((ranges.total + gridDim.x - 1) / gridDim.x + 15) / 16 * 16;
    const unsigned begin = blockIdx.x * share;
    const unsigned end = min(begin + share, ranges.total);
    unsigned offset = 0;
#pragma unroll
    for (int i = 0; i < static_cast<int>(kMaxMatvecGroup); ++i) {
        const unsigned low = max(begin, offset);
        const unsigned high = min(end, offset + ranges.bytes[i]);
        if (low < high) {
            asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;\n" ::"l"(ranges.begin[i] +
                                                                              (low - offset)),
                         "r"(high - low)
                         : "memory");
        }
        offset += ranges.bytes[i];
    }
#endif
}

__device__ __forceinline__ void copy_async_16(void* shared, const void* global, int bytes) {
    const auto address = static_cast<unsigned>(__cvta_generic_to_shared(shared));
    // Bytes past `bytes` are zero-filled, so the copy never reads past the row's end.
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(address), "l"(global),
                 "r"(bytes));
}
__device__ __forceinline__ void commit_async() { asm volatile("cp.async.commit_group;\n" ::); }
template <int kPending>
__device__ __forceinline__ void wait_async() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}

template <DType T>
struct Chunk {
    static constexpr int kBytes = 32 / Unpack<T>::kSubBlocks * Unpack<T>::kBlockBytes;
    // Room for a start that is not 16-byte aligned.
    static constexpr int kStageBytes = (kBytes + 15) / 16 * 16 + 16;
};

// The row and the share of it (`part` of warps_per_row) that warp threadIdx.y of this block
// computes, in the target that this block belongs to.
struct RowShare {
    MatvecTarget target;
    int row;
    int part;
};

__device__ __forceinline__ RowShare row_share(const MatvecTargets& targets) {
    // Constant indices keep the targets in parameter space (an indexed copy goes to the stack).
    RowShare share{targets.target[0], 0, 0};
#pragma unroll
    for (int i = 1; i < kMaxTargets; ++i) {
        if (i < targets.count && static_cast<int>(blockIdx.x) >= targets.target[i].first_block)
            share.target = targets.target[i];
    }
    const int warps_per_row = share.target.warps_per_row;
    share.row = (static_cast<int>(blockIdx.x) - share.target.first_block) *
                    (kWarpsPerBlock / warps_per_row) +
                static_cast<int>(threadIdx.y) / warps_per_row;
    share.part = static_cast<int>(threadIdx.y) % warps_per_row;
    return share;
}

// Where lane t of a Q, K or V row's first warp puts token t's result: the cache row, and the
// rotation of the row's pair. Worked out while the weights are on their way: positions and
// cache rows come from the host before the step, not from an earlier kernel.
struct QkvRowPlace {
    size_t cache_at;
    float2 cos_sin;
};

template <int kTokens>
__device__ __forceinline__ QkvRowPlace qkv_row_place(const RowShare& share, const RopeWork& work) {
    QkvRowPlace place{0, make_float2(1.0f, 0.0f)};
    const int t = threadIdx.x;
    const int row = share.row;
    if (share.target.role == RowRole::Plain || share.part != 0 || row >= share.target.rows ||
        t >= kTokens)
        return place;
    place.cache_at = static_cast<size_t>(work.cache_rows[t]) * work.kv_dim + row;
    const int within = row % work.head_dim;
    if (share.target.role != RowRole::Value && within < static_cast<int>(work.rope.rotated_dims))
        place.cos_sin = rope_cos_sin(within / 2, work.positions[t], work.rope);
    return place;
}

// Rows of Q, K or V (after the sums are complete; all threads of the block call it, `writer`
// being the thread that holds the row's totals). A block holds both rows of each pair: the
// launch gives query and key rows at most two warps each.
template <int kTokens>
__device__ __forceinline__ void finish_qkv_rows(const RowShare& share,
                                                const float (&totals)[kTokens], bool writer,
                                                const RopeWork& work, const QkvRowPlace& place) {
    __shared__ float values[kWarpsPerBlock][kTokens];
    const int slot = static_cast<int>(threadIdx.y) / share.target.warps_per_row;
    if (writer) {
#pragma unroll
        for (int t = 0; t < kTokens; ++t) values[slot][t] = totals[t];
    }
    __syncthreads();
    // Lane t finishes token t.
    const int t = threadIdx.x;
    const int row = share.row;
    if (share.part != 0 || row >= share.target.rows || t >= kTokens) return;
    const float value = values[slot][t];
    if (share.target.role == RowRole::Value) {
        work.value_cache[place.cache_at] = __float2half(value);
        return;
    }
    float result = value;
    const int within = row % work.head_dim;
    if (within < static_cast<int>(work.rope.rotated_dims)) {
        const float partner = values[slot ^ 1][t];
        result = within % 2 == 0 ? rope_first(value, partner, place.cos_sin)
                                 : rope_second(partner, value, place.cos_sin);
    }
    if (share.target.role == RowRole::Query)
        share.target.out[static_cast<size_t>(t) * share.target.rows + row] = result;
    else
        work.key_cache[place.cache_at] = __float2half(result);
}

// The row's current outputs, which a residual add adds to: loaded by the writer lane as soon as
// the previous kernel has finished, so that the block's end does not wait for them.
template <int kTokens>
__device__ __forceinline__ void load_residuals(const RowShare& share, const RowsFinish& finish,
                                               float (&residuals)[kTokens]) {
    const bool writer = share.part == 0 && threadIdx.x == 0 && share.row < share.target.rows;
#pragma unroll
    for (int t = 0; t < kTokens; ++t) {
        residuals[t] =
            finish.accumulate && writer
                ? share.target.out[static_cast<size_t>(t) * share.target.rows + share.row]
                : 0.0f;
    }
}

// Adds up the lanes' and the row's warps' sums (in a fixed order) and writes the row's results.
template <int kTokens>
__device__ __forceinline__ void finish_row(const RowShare& share, float (&sums)[kTokens],
                                           const float (&residuals)[kTokens],
                                           const RowsFinish& finish, const QkvRowPlace& place) {
    __shared__ float partial[kWarpsPerBlock][kTokens];
    const int lane = threadIdx.x;
    const int warp = threadIdx.y;
    float totals[kTokens];
#pragma unroll
    for (int t = 0; t < kTokens; ++t) totals[t] = warp_sum(sums[t]);
    const int warps_per_row = share.target.warps_per_row;
    if (warps_per_row > 1) {
        if (lane == 0) {
#pragma unroll
            for (int t = 0; t < kTokens; ++t) partial[warp][t] = totals[t];
        }
        __syncthreads();
        if (share.part == 0) {
#pragma unroll
            for (int t = 0; t < kTokens; ++t) {
                totals[t] = 0.0f;
                for (int w = 0; w < warps_per_row; ++w) totals[t] += partial[warp + w][t];
            }
        }
    }
    const bool writer = share.part == 0 && lane == 0 && share.row < share.target.rows;
    if (share.target.role != RowRole::Plain) {  // the same for the whole block
        finish_qkv_rows<kTokens>(share, totals, writer, finish.rope, place);
        return;
    }
    if (!writer) return;
#pragma unroll
    for (int t = 0; t < kTokens; ++t) {
        share.target.out[static_cast<size_t>(t) * share.target.rows + share.row] =
            finish.accumulate ? residuals[t] + totals[t] : totals[t];
    }
}

// Any format: rows staged through shared memory (see the top of the file). A block's work, shared
// by the kernels below.
template <DType T, int kTokens>
__device__ __forceinline__ void staged_rows(const MatvecTargets& targets, int sub_blocks,
                                            const ActivationBlock* activations,
                                            const RowsFinish& finish, const L2Ranges& prefetch) {
    using U = Unpack<T>;
    constexpr bool kHasOffset = U::kHasOffset;
    constexpr int kStageBytes = Chunk<T>::kStageBytes;
    __shared__ __align__(16) uint8_t stages[kWarpsPerBlock][kStages][kStageBytes];
    const RowShare share = row_share(targets);
    const int lane = threadIdx.x;
    const int warp = threadIdx.y;
    const int warps_per_row = share.target.warps_per_row;
    const int chunks = (sub_blocks + 31) / 32;
    const int my_chunks = share.row < share.target.rows
                              ? (chunks - share.part + warps_per_row - 1) / warps_per_row
                              : 0;
    const uint8_t* row_start =
        share.target.data + static_cast<size_t>(share.row) * share.target.row_stride;
    const uint8_t* row_end = row_start + (sub_blocks / U::kSubBlocks) * U::kBlockBytes;

    auto chunk_start = [&](int k) {
        return row_start + static_cast<size_t>(share.part + k * warps_per_row) * Chunk<T>::kBytes;
    };
    auto issue = [&](int k) {
        const uint8_t* begin = chunk_start(k);
        const uint8_t* end =
            begin + Chunk<T>::kBytes < row_end ? begin + Chunk<T>::kBytes : row_end;
        const auto* aligned =
            reinterpret_cast<const uint8_t*>(reinterpret_cast<uintptr_t>(begin) & ~uintptr_t{15});
        const int vectors = static_cast<int>((end - aligned + 15) / 16);
        uint8_t* stage = stages[warp][k % kStages];
        for (int v = lane; v < vectors; v += 32) {
            const uint8_t* source = aligned + 16 * v;
            copy_async_16(stage + 16 * v, source,
                          end - source < 16 ? static_cast<int>(end - source) : 16);
        }
    };

    float sums[kTokens] = {};
    for (int k = 0; k < kStages - 1; ++k) {
        if (k < my_chunks) issue(k);
        commit_async();
    }
    const QkvRowPlace place = qkv_row_place<kTokens>(share, finish.rope);
    begin_after_previous_kernel();  // the weights are in flight; now the activations are needed
    float residuals[kTokens];
    load_residuals<kTokens>(share, finish, residuals);
    for (int k = 0; k < my_chunks; ++k) {
        if (k + kStages - 1 < my_chunks) issue(k + kStages - 1);
        commit_async();
        wait_async<kStages - 1>();
        __syncwarp();
        const int sub = (share.part + k * warps_per_row) * 32 + lane;
        if (sub < sub_blocks) {
            const uint8_t* begin = chunk_start(k);
            const uint8_t* staged =
                stages[warp][k % kStages] + (reinterpret_cast<uintptr_t>(begin) & 15);
            SubBlock block;
            U::run(staged + (lane / U::kSubBlocks) * U::kBlockBytes, lane % U::kSubBlocks, block);
#pragma unroll
            for (int t = 0; t < kTokens; ++t)
                sums[t] += dot<kHasOffset>(block, activations[t * sub_blocks + sub]);
        }
        __syncwarp();  // the stage is refilled next iteration
    }
    prefetch_share(prefetch);
    finish_row<kTokens>(share, sums, residuals, finish, place);
}

// c + the dot product of a's four unsigned bytes with b's four signed ones.
__device__ __forceinline__ int dot_unsigned_signed(uint32_t a, int b, int c) {
    int result;
    asm("dp4a.u32.s32 %0, %1, %2, %3;" : "=r"(result) : "r"(a), "r"(b), "r"(c));
    return result;
}

// The 6-bit scales and mins of sub-blocks 2 * pair and 2 * pair + 1 of a Q4_K block, whose 12
// packed bytes are header.y, .z and .w (scale_min_k4's layout), decoded without branches:
// the lanes of a warp hold different pairs, so branches would run both ways. Sub-blocks 0-3 keep
// their scale and min in the low 6 bits of bytes j and j + 4; sub-blocks 4-7 put the low 4 bits
// in byte j + 4 and the top 2 in the spare bits of bytes j - 4 (scale) and j (min).
__device__ __forceinline__ void q4_k_pair_scales(uint4 header, int pair, int (&scale)[2],
                                                 int (&min)[2]) {
    const int shift = 16 * (pair & 1);
    const uint32_t first = (header.y >> shift) & 0xFFFF;   // bytes 2p, 2p + 1 (p = pair % 2)
    const uint32_t second = (header.z >> shift) & 0xFFFF;  // bytes 4 + 2p, 5 + 2p
    const uint32_t third = (header.w >> shift) & 0xFFFF;   // bytes 8 + 2p, 9 + 2p
    const bool low = pair < 2;
    const uint32_t scales = low ? first & 0x3F3F : (third & 0x0F0F) | ((first >> 2) & 0x3030);
    const uint32_t mins =
        low ? second & 0x3F3F : ((third >> 4) & 0x0F0F) | ((second >> 2) & 0x3030);
    scale[0] = static_cast<int>(scales & 0xFF);
    scale[1] = static_cast<int>(scales >> 8);
    min[0] = static_cast<int>(mins & 0xFF);
    min[1] = static_cast<int>(mins >> 8);
}

// Q4_K, the bulk of a Q4_K_M model, read straight into registers: its 144-byte blocks keep
// 16-byte alignment, so each lane loads a block's header (d, dmin, scales) and one eighth of
// its nibbles as 16-byte vectors: 16 values of sub-block 2m (low nibbles) and the same 16 of
// sub-block 2m + 1 (high nibbles). Eight lanes cover a block; a warp, four.
template <int kTokens>
__device__ __forceinline__ void q4_k_rows(const MatvecTargets& targets, int blocks_per_row,
                                          const ActivationBlock* activations,
                                          const RowsFinish& finish, const L2Ranges& prefetch) {
    constexpr int kBlockBytes = 144;
    const RowShare share = row_share(targets);
    const int lane = threadIdx.x;
    const int warps_per_row = share.target.warps_per_row;
    const int eighth = lane % 8;
    const int pair = eighth / 2;  // sub-blocks 2 * pair and 2 * pair + 1
    const int half = eighth % 2;  // values 16 * half .. 16 * half + 15 of each
    const int sub_blocks = blocks_per_row * 8;
    const uint8_t* row_start =
        share.target.data + static_cast<size_t>(share.row) * share.target.row_stride;
    const int stride = 4 * warps_per_row;
    const int first = share.row < share.target.rows ? share.part * 4 + lane / 8 : blocks_per_row;

    float sums[kTokens] = {};
    // Few instructions per byte: the kernel issues one for every few bytes it reads, so
    // instructions, not memory, bound it unless kept down. The high nibbles stay in place (16
    // times their value, as unsigned bytes) and the factor comes off the integer sum; scales
    // multiply the integer sums before the one conversion to float.
    auto accumulate_block = [&](int block, uint4 header, uint4 nibbles) {
        const float2 d_dmin = __half22float2(*reinterpret_cast<const __half2*>(&header.x));
        int sc[2], m[2];
        q4_k_pair_scales(header, pair, sc, m);
        const float min_low = static_cast<float>(m[0]), min_high = static_cast<float>(m[1]);
        const uint32_t w[4] = {nibbles.x, nibbles.y, nibbles.z, nibbles.w};
        const int sub = block * 8 + 2 * pair;
#pragma unroll
        for (int t = 0; t < kTokens; ++t) {
            const ActivationBlock* a = activations + t * sub_blocks + sub;
            const int4 a_low = reinterpret_cast<const int4*>(a[0].q)[half];
            const int4 a_high = reinterpret_cast<const int4*>(a[1].q)[half];
            const float4 low_scalars = *reinterpret_cast<const float4*>(&a[0].d);
            const float4 high_scalars = *reinterpret_cast<const float4*>(&a[1].d);
            const int a_lows[4] = {a_low.x, a_low.y, a_low.z, a_low.w};
            const int a_highs[4] = {a_high.x, a_high.y, a_high.z, a_high.w};
            int low = 0, high16 = 0;
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                low = __dp4a(static_cast<int>(w[k] & 0x0F0F0F0F), a_lows[k], low);
                high16 = dot_unsigned_signed(w[k] & 0xF0F0F0F0, a_highs[k], high16);
            }
            const float low_sum = half == 0 ? low_scalars.y : low_scalars.z;
            const float high_sum = half == 0 ? high_scalars.y : high_scalars.z;
            const float scaled = low_scalars.x * static_cast<float>(sc[0] * low) +
                                 high_scalars.x * static_cast<float>(sc[1] * (high16 >> 4));
            const float offsets = min_low * low_sum + min_high * high_sum;
            sums[t] += d_dmin.x * scaled - d_dmin.y * offsets;
        }
    };
    // Two blocks per lane and round, loaded before either is used; the first round is
    // fetched before waiting for the previous kernel.
    uint4 headers[2] = {}, nibbles[2] = {};
    auto load = [&](int i, int block) {
        if (block >= blocks_per_row) return;
        const uint8_t* p = row_start + static_cast<size_t>(block) * kBlockBytes;
        headers[i] = __ldg(reinterpret_cast<const uint4*>(p));
        nibbles[i] = __ldg(reinterpret_cast<const uint4*>(p + 16) + eighth);
    };
    load(0, first);
    load(1, first + stride);
    const QkvRowPlace place = qkv_row_place<kTokens>(share, finish.rope);
    begin_after_previous_kernel();
    float residuals[kTokens];
    load_residuals<kTokens>(share, finish, residuals);
    for (int block = first; block < blocks_per_row; block += 2 * stride) {
        if (block != first) {
            load(0, block);
            load(1, block + stride);
        }
        accumulate_block(block, headers[0], nibbles[0]);
        if (block + stride < blocks_per_row)
            accumulate_block(block + stride, headers[1], nibbles[1]);
    }
    prefetch_share(prefetch);
    finish_row<kTokens>(share, sums, residuals, finish, place);
}

template <DType T, int kTokens>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    matvec_staged_kernel(MatvecTargets targets, int sub_blocks, const ActivationBlock* activations,
                         RowsFinish finish, L2Ranges prefetch) {
    staged_rows<T, kTokens>(targets, sub_blocks, activations, finish, prefetch);
}

template <int kTokens>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    matvec_q4_k_kernel(MatvecTargets targets, int sub_blocks, const ActivationBlock* activations,
                       RowsFinish finish, L2Ranges prefetch) {
    q4_k_rows<kTokens>(targets, sub_blocks / 8, activations, finish, prefetch);
}

// Q4_K_M's layers mix Q4_K and Q6_K matrices (V, in some layers): one launch serves both, the
// Q4_K targets' row groups first.
template <int kTokens>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    matvec_q4_k_q6_k_kernel(MatvecTargets targets, int first_q6_k_group, int sub_blocks,
                            const ActivationBlock* activations, RowsFinish finish,
                            L2Ranges prefetch) {
    if (static_cast<int>(blockIdx.x) < first_q6_k_group)
        q4_k_rows<kTokens>(targets, sub_blocks / 8, activations, finish, prefetch);
    else
        staged_rows<DType::Q6_K, kTokens>(targets, sub_blocks, activations, finish, prefetch);
}

// Plain float rows: 16-byte loads of weights and inputs where the row allows them.
template <typename W, int kTokens>
__global__ void matvec_float_kernel(const W* weights, int rows, int columns, const float* x,
                                    float* out, bool vectorised, bool accumulate,
                                    L2Ranges prefetch) {
    begin_after_previous_kernel();
    constexpr int kVector = 16 / sizeof(W);
    // Warp 0 of every block has a row, so every block takes its share of the prefetch.
    const int row = blockIdx.x * kWarpsPerBlock + threadIdx.y;
    if (row >= rows) return;
    const W* w = weights + static_cast<size_t>(row) * columns;
    float sums[kTokens] = {};
    if (vectorised) {
        for (int c = threadIdx.x * kVector; c < columns; c += 32 * kVector) {
            alignas(16) W packed[kVector];
            *reinterpret_cast<uint4*>(packed) = *reinterpret_cast<const uint4*>(w + c);
#pragma unroll
            for (int t = 0; t < kTokens; ++t) {
                const auto* input =
                    reinterpret_cast<const float4*>(x + static_cast<size_t>(t) * columns + c);
#pragma unroll
                for (int i = 0; i < kVector / 4; ++i) {
                    const float4 v = input[i];
                    sums[t] += to_float(packed[4 * i]) * v.x + to_float(packed[4 * i + 1]) * v.y +
                               to_float(packed[4 * i + 2]) * v.z +
                               to_float(packed[4 * i + 3]) * v.w;
                }
            }
        }
    } else {
        for (int c = threadIdx.x; c < columns; c += 32) {
            const float value = to_float(w[c]);
#pragma unroll
            for (int t = 0; t < kTokens; ++t)
                sums[t] += value * x[static_cast<size_t>(t) * columns + c];
        }
    }
    prefetch_share(prefetch);
#pragma unroll
    for (int t = 0; t < kTokens; ++t) {
        const float total = warp_sum(sums[t]);
        if (threadIdx.x != 0) continue;
        float& result = out[static_cast<size_t>(t) * rows + row];
        result = accumulate ? result + total : total;
    }
}

// Warps per row: enough rows x warps to fill the GPU, at least one chunk per warp. Rows
// staged through shared memory are also split when long (Llama-3-8B's 14336-wide down
// projection: 14 chunks), since a warp computes its chunks one after another; measured on
// the H100 with llcuda_matvec_bench, the direct Q4_K kernel does best without that split.
int warps_per_row_for(size_t rows, size_t columns, bool staged) {
    const size_t chunks = (columns / 32 + 31) / 32;
    size_t warps = 1;
    auto worth_splitting = [&] {
        return rows * warps < 4096 || (staged && chunks > 4 * warps && rows * warps < 16384);
    };
    while (warps < kWarpsPerBlock && chunks >= 2 * warps && worth_splitting()) warps *= 2;
    return static_cast<int>(warps);
}

bool rows_aligned_16(const DeviceMatrix& m) {
    return reinterpret_cast<uintptr_t>(m.data) % 16 == 0 && m.row_stride_bytes % 16 == 0;
}

// Q4_K rows that keep 16-byte alignment take the direct kernel.
bool direct_q4_k(const DeviceMatrix& m) { return m.type == DType::Q4_K && rows_aligned_16(m); }

// The targets of `jobs` in this order, numbering their row groups on from targets' last.
int add_targets(MatvecTargets& targets, const MatvecJob* const* jobs, size_t count,
                size_t token_offset, int first_group, const QkvRopeStore* rope_store) {
    int groups = first_group;
    for (size_t i = 0; i < count; ++i) {
        const DeviceMatrix& m = *jobs[i]->weights;
        RowRole role = RowRole::Plain;
        if (rope_store != nullptr) {
            const float* out = jobs[i]->out;
            role = out == rope_store->queries  ? RowRole::Query
                   : out == rope_store->keys   ? RowRole::Key
                   : out == rope_store->values ? RowRole::Value
                                               : RowRole::Plain;
        }
        int warps_per_row = warps_per_row_for(m.rows, m.columns, !direct_q4_k(m));
        // Both rows of a rotated pair in one block. (A matrix that would take 4 warps then adds
        // its parts in another order than without the role: the same values up to rounding.)
        if (role == RowRole::Query || role == RowRole::Key)
            warps_per_row = std::min(warps_per_row, 2);
        const int rows_per_block = kWarpsPerBlock / warps_per_row;
        targets.target[targets.count++] = {m.data,
                                           m.row_stride_bytes,
                                           jobs[i]->out + token_offset * m.rows,
                                           static_cast<int>(m.rows),
                                           warps_per_row,
                                           groups,
                                           role};
        groups += static_cast<int>((m.rows + rows_per_block - 1) / rows_per_block);
    }
    return groups;
}

// One launch for jobs that are all direct Q4_K, all of one other type, or direct Q4_K and Q6_K.
template <int kTokens>
void launch_quantized(const MatvecJob* const* direct, size_t direct_count,
                      const MatvecJob* const* staged, size_t staged_count, size_t token_offset,
                      const ActivationBlock* blocks, const RowsFinish& finish,
                      const QkvRopeStore* rope_store, const L2Ranges& prefetch,
                      cudaStream_t stream) {
    MatvecTargets targets{};
    const int q4_k_groups = add_targets(targets, direct, direct_count, token_offset, 0, rope_store);
    const int groups =
        add_targets(targets, staged, staged_count, token_offset, q4_k_groups, rope_store);
    const DeviceMatrix& first = direct_count > 0 ? *direct[0]->weights : *staged[0]->weights;
    const int sub_blocks = static_cast<int>(first.columns / 32);
    const dim3 block(32, kWarpsPerBlock);
    if (staged_count == 0) {
        launch_kernel(matvec_q4_k_kernel<kTokens>, groups, block, 0, stream, targets, sub_blocks,
                      blocks, finish, prefetch);
        return;
    }
    const DType staged_type = staged[0]->weights->type;
    if (direct_count > 0) {  // the caller makes sure the rest is Q6_K
        launch_kernel(matvec_q4_k_q6_k_kernel<kTokens>, groups, block, 0, stream, targets,
                      q4_k_groups, sub_blocks, blocks, finish, prefetch);
        return;
    }
    switch (staged_type) {
#define LLCUDA_MATVEC_CASE(NAME)                                                            \
    case DType::NAME:                                                                       \
        launch_kernel(matvec_staged_kernel<DType::NAME, kTokens>, groups, block, 0, stream, \
                      targets, sub_blocks, blocks, finish, prefetch);                       \
        return;
        LLCUDA_FOR_EACH_QUANT_TYPE(LLCUDA_MATVEC_CASE)
#undef LLCUDA_MATVEC_CASE
        default:
            break;
    }
    throw Error(fmt::format("no GPU matrix-vector kernel for {}", dtype_name(staged_type)));
}

// Quantized jobs in as few launches as the kernels allow: direct Q4_K with Q6_K or with its own
// kind, and each other type alone.
template <int kTokens>
void launch_quantized(const MatvecJob* jobs, size_t count, size_t token_offset,
                      const ActivationBlock* blocks, const RowsFinish& finish,
                      const QkvRopeStore* rope_store, const L2Ranges& prefetch,
                      cudaStream_t stream) {
    const MatvecJob* direct[kMaxTargets];
    size_t direct_count = 0;
    const MatvecJob* by_type[kMaxTargets][kMaxTargets];  // the other jobs, grouped by type
    size_t type_count = 0, counts[kMaxTargets] = {};
    for (size_t i = 0; i < count; ++i) {
        if (direct_q4_k(*jobs[i].weights)) {
            direct[direct_count++] = &jobs[i];
            continue;
        }
        size_t t = 0;
        while (t < type_count && by_type[t][0]->weights->type != jobs[i].weights->type) ++t;
        if (t == type_count) ++type_count;
        by_type[t][counts[t]++] = &jobs[i];
    }
    size_t q6_k = type_count;  // the Q6_K jobs' index, if any
    for (size_t t = 0; t < type_count; ++t)
        if (by_type[t][0]->weights->type == DType::Q6_K) q6_k = t;
    const bool joined = direct_count > 0 && q6_k < type_count;
    // The launches in order; the last one names the next weights.
    struct Launch {
        const MatvecJob* const* direct;
        size_t direct_count;
        const MatvecJob* const* staged;
        size_t staged_count;
    };
    Launch launches[kMaxTargets + 1];
    size_t launch_count = 0;
    if (direct_count > 0)
        launches[launch_count++] = {direct, direct_count, joined ? by_type[q6_k] : nullptr,
                                    joined ? counts[q6_k] : 0};
    for (size_t t = 0; t < type_count; ++t)
        if (!(joined && t == q6_k)) launches[launch_count++] = {nullptr, 0, by_type[t], counts[t]};
    for (size_t i = 0; i < launch_count; ++i) {
        const Launch& l = launches[i];
        launch_quantized<kTokens>(l.direct, l.direct_count, l.staged, l.staged_count, token_offset,
                                  blocks, finish, rope_store,
                                  i + 1 == launch_count ? prefetch : L2Ranges{}, stream);
    }
}

template <typename W, int kTokens>
void launch_float_kernel(const DeviceMatrix& m, const float* x, float* out, bool accumulate,
                         const L2Ranges& prefetch, cudaStream_t stream) {
    const dim3 block(32, kWarpsPerBlock);
    const dim3 grid(static_cast<unsigned>((m.rows + kWarpsPerBlock - 1) / kWarpsPerBlock));
    constexpr size_t kVector = 16 / sizeof(W);
    const bool vectorised = m.columns % kVector == 0 &&
                            reinterpret_cast<uintptr_t>(m.data) % 16 == 0 &&
                            reinterpret_cast<uintptr_t>(x) % 16 == 0;
    launch_kernel(matvec_float_kernel<W, kTokens>, grid, block, 0, stream,
                  reinterpret_cast<const W*>(m.data), static_cast<int>(m.rows),
                  static_cast<int>(m.columns), x, out, vectorised, accumulate, prefetch);
}

template <int kTokens>
void launch_float(const DeviceMatrix& m, const float* x, float* out, bool accumulate,
                  const L2Ranges& prefetch, cudaStream_t stream) {
    switch (m.type) {
        case DType::F32:
            return launch_float_kernel<float, kTokens>(m, x, out, accumulate, prefetch, stream);
        case DType::F16:
            return launch_float_kernel<__half, kTokens>(m, x, out, accumulate, prefetch, stream);
        case DType::BF16:
            return launch_float_kernel<__nv_bfloat16, kTokens>(m, x, out, accumulate, prefetch,
                                                               stream);
        default:
            throw Error(fmt::format("no GPU matrix-vector kernel for {}", dtype_name(m.type)));
    }
}

// One launch for a part of `part` tokens starting at token `done`.
template <int kTokens>
void launch_part(const MatvecJob* jobs, size_t count, const float* x, const ActivationBlock* blocks,
                 size_t done, const RowsFinish& finish, const QkvRopeStore* rope_store,
                 const L2Ranges& prefetch, cudaStream_t stream) {
    const DeviceMatrix& first = *jobs[0].weights;
    if (is_quantized(first.type)) {
        RowsFinish part = finish;  // this part's tokens
        if (rope_store != nullptr) {
            part.rope.positions += done;
            part.rope.cache_rows += done;
        }
        launch_quantized<kTokens>(jobs, count, done, blocks + done * (first.columns / 32), part,
                                  rope_store, prefetch, stream);
        return;
    }
    for (size_t i = 0; i < count; ++i) {
        launch_float<kTokens>(*jobs[i].weights, x + done * first.columns,
                              jobs[i].out + done * jobs[i].weights->rows, finish.accumulate,
                              i + 1 == count ? prefetch : L2Ranges{}, stream);
    }
}

thread_local size_t l2_prefetch_limit = kDefaultL2PrefetchBytes;

// The first bytes of each next matrix, in proportion to its size, l2_prefetch_limit in all.
L2Ranges l2_ranges(const NextWeights& next) {
    L2Ranges ranges{};
    size_t total = 0;
    for (size_t i = 0; i < next.count; ++i)
        total += next.matrices[i]->rows * next.matrices[i]->row_stride_bytes;
    if (total == 0 || l2_prefetch_limit == 0) return ranges;
    const double fraction = std::min(1.0, static_cast<double>(l2_prefetch_limit) / total);
    for (size_t i = 0; i < next.count && i < kMaxMatvecGroup; ++i) {
        const DeviceMatrix& m = *next.matrices[i];
        const auto start = reinterpret_cast<uintptr_t>(m.data);
        const uintptr_t begin = (start + 15) / 16 * 16;
        const uintptr_t end =
            start + static_cast<uintptr_t>(fraction * m.rows * m.row_stride_bytes);
        if (end <= begin) continue;
        ranges.begin[i] = reinterpret_cast<const uint8_t*>(begin);
        ranges.bytes[i] = static_cast<unsigned>((end - begin) / 16 * 16);
        ranges.total += ranges.bytes[i];
    }
    return ranges;
}

}  // namespace

size_t activation_blocks_bytes(size_t tokens, size_t columns) {
    return tokens * ((columns + 31) / 32) * sizeof(ActivationBlock);
}

void quantize_activations(const float* x, size_t tokens, size_t columns, void* blocks,
                          cudaStream_t stream) {
    require_whole_activation_blocks(columns);
    const size_t total = tokens * (columns / 32);
    const dim3 block(32, 8);
    const dim3 grid(static_cast<unsigned>((total + 7) / 8));
    launch_kernel(quantize_activations_kernel, grid, block, 0, stream, x, columns / 32, total,
                  static_cast<ActivationBlock*>(blocks));
    check_launch("quantize_activations");
}

void set_l2_prefetch_bytes(size_t bytes) {
    // The kernels count the bytes in 32 bits.
    l2_prefetch_limit = std::min<size_t>(bytes, size_t{1} << 30);
}

bool qkv_rope_store_possible(const DeviceRope& rope, DType kv_type, size_t head_dim) {
    return kv_type == DType::F16 && rope.style == RopeStyle::Normal && head_dim % 2 == 0 &&
           rope.rotated_dims <= head_dim;
}

void matvec_group(const MatvecJob* jobs, size_t count, const float* x,
                  const void* activation_blocks, size_t tokens, bool accumulate,
                  cudaStream_t stream, const NextWeights& next, const QkvRopeStore* rope_store) {
    if (count == 0 || tokens == 0) return;
    if (count > kMaxTargets)
        throw Error(fmt::format("a matrix-vector launch takes at most {} matrices", kMaxTargets));
    const DeviceMatrix& first = *jobs[0].weights;
    const bool quantized = is_quantized(first.type);
    for (size_t i = 1; i < count; ++i) {
        const DeviceMatrix& m = *jobs[i].weights;
        if (m.columns != first.columns || is_quantized(m.type) != quantized ||
            (!quantized && m.type != first.type)) {
            throw Error(
                "matrices of one matrix-vector call must share their width, and be all quantized "
                "or all of one float type");
        }
    }
    RowsFinish finish{accumulate, {}};
    if (rope_store != nullptr) {
        // Every job has a part; keys and values are rows of the cache.
        size_t roles = 0, kv_rows = 0;
        bool kv_rows_agree = true;
        for (size_t i = 0; i < count; ++i) {
            const float* out = jobs[i].out;
            const bool key_or_value = out == rope_store->keys || out == rope_store->values;
            roles += out == rope_store->queries || key_or_value;
            if (!key_or_value) continue;
            kv_rows_agree = kv_rows_agree && (kv_rows == 0 || kv_rows == jobs[i].weights->rows);
            kv_rows = jobs[i].weights->rows;
        }
        if (!quantized || accumulate || roles != count || !kv_rows_agree ||
            !qkv_rope_store_possible(rope_store->rope, DType::F16, rope_store->head_dim)) {
            throw Error(
                "RoPE and the KV store in the products need quantized Q, K and V matrices, an F16 "
                "cache and RoPE on adjacent pairs");
        }
        const auto& r = *rope_store;
        finish.rope = {r.positions,
                       r.cache_rows,
                       r.rope,
                       static_cast<int>(r.head_dim),
                       static_cast<int>(kv_rows),
                       static_cast<__half*>(r.key_cache),
                       static_cast<__half*>(r.value_cache)};
    }
    const auto* blocks = static_cast<const ActivationBlock*>(activation_blocks);
    // Powers of two cover any count up to 8, each part reading the weights once.
    const L2Ranges prefetch = l2_ranges(next);
    size_t done = 0;
    for (const size_t part : {size_t{8}, size_t{4}, size_t{2}, size_t{1}}) {
        while (tokens - done >= part) {
            // Only the last part is followed by the next weights.
            const L2Ranges& ahead = done + part == tokens ? prefetch : L2Ranges{};
            switch (part) {
                case 8:
                    launch_part<8>(jobs, count, x, blocks, done, finish, rope_store, ahead, stream);
                    break;
                case 4:
                    launch_part<4>(jobs, count, x, blocks, done, finish, rope_store, ahead, stream);
                    break;
                case 2:
                    launch_part<2>(jobs, count, x, blocks, done, finish, rope_store, ahead, stream);
                    break;
                default:
                    launch_part<1>(jobs, count, x, blocks, done, finish, rope_store, ahead, stream);
                    break;
            }
            done += part;
        }
    }
    check_launch("matvec");
}

void matvec(const DeviceMatrix& weights, const float* x, const void* activation_blocks,
            size_t tokens, float* out, cudaStream_t stream, bool accumulate,
            const NextWeights& next) {
    const MatvecJob job{&weights, out};
    matvec_group(&job, 1, x, activation_blocks, tokens, accumulate, stream, next);
}

void check_launch(const char* what) {
    const cudaError_t error = cudaGetLastError();
    if (error != cudaSuccess) {
        throw Error(fmt::format("CUDA kernel {} failed to launch: {}: {}", what,
                                cudaGetErrorName(error), cudaGetErrorString(error)));
    }
}

}  // namespace llcuda::cuda
