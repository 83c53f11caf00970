#pragma once
// Attention of a batch of query tokens over the CPU layers' KV cache, one thread-pool item per
// (head, token) pair. The cache rows are F32, F16 or Q8_0 (--kv-type). The reference
// dequantizes each head's row to float and sums in plain order (the oracle, and the arithmetic
// the CPU path always had for F32); the fast path reads the stored type in place with eight
// partial sums, a loop the compiler turns into SIMD.
#include <cstddef>
#include <cstdint>
#include <span>

#include "backend/cpu/cpu_ops.hpp"
#include "backend/cpu/thread_pool.hpp"
#include "core/dtype.hpp"

namespace llcuda {

// One sequence's keys and values in one layer: position p sits in slot p % slots, each row
// holding kv_head_count * head_dim elements of `type`.
struct KvRows {
    DType type = DType::F32;
    const std::byte* keys = nullptr;
    const std::byte* values = nullptr;
    size_t slots = 0;
    size_t row_bytes = 0;
};

struct AttentionArgs {
    size_t head_count = 0;
    size_t kv_head_count = 0;  // divides head_count (grouped-query attention)
    size_t head_dim = 0;
    float scale = 1.0f;  // applied to each query-key dot product
    size_t window = 0;   // sliding window: a token sees its last `window` positions; 0: all
    CpuKernels kernels = CpuKernels::Reference;
};

// For each query token t (queries[t][head][head_dim]) at positions[t] of sequence
// sequences[t], whose cache is caches[sequences[t]]: out[t][head][head_dim], causal softmax
// attention over the positions up to and including its own.
void cpu_attention(const AttentionArgs& args, std::span<const KvRows> caches,
                   std::span<const int32_t> sequences, std::span<const int32_t> positions,
                   const float* queries, float* out, ThreadPool& pool);

// Throws an Error naming --kv-type unless the CPU's KV cache can hold heads of head_dim in
// `type` (F32, F16, or Q8_0 when head_dim is a multiple of its 32-element block).
void check_cpu_kv_type(DType type, size_t head_dim);

}  // namespace llcuda
