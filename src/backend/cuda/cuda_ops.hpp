#pragma once
// The forward pass's GPU operations as host functions: each launches its kernel on `stream`
// and returns without waiting. Pointers are device pointers; shapes are row-major with the
// token index outermost. Positions are read from device memory so that a captured CUDA graph
// stays valid from one decode step to the next.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "backend/cpu/cpu_ops.hpp"
#include "core/dtype.hpp"

namespace llcuda::cuda {

// A weight matrix whose data pointer is in GPU memory (same layout description as on the CPU).
using DeviceMatrix = WeightMatrix;

// Bytes of one KV cache row of kv_dim values in `type` (F16 or Q8_0); throws for other types
// and for Q8_0 rows that are not whole blocks.
size_t kv_row_bytes(DType type, size_t kv_dim);

// Bytes of the int8 activation blocks for `tokens` inputs of `columns` values.
size_t activation_blocks_bytes(size_t tokens, size_t columns);

// int8 activations with one scale per 32 values, the input of matvec_quantized.
void quantize_activations(const float* x, size_t tokens, size_t columns, void* blocks,
                          cudaStream_t stream);

// out[t][r] = row r of `weights` . x[t] (added to out[t][r] with `accumulate`, which folds a
// residual add into the product), for any number of tokens, read in parts of up to 8.
// Quantized weights take activations from quantize_activations (dp4a on the blocks);
// F32/F16/BF16 weights take the float inputs.
// `next`: the matrices that the next matrix-vector launch reads. This launch asks the L2 cache,
// as its blocks finish, to fetch their first bytes (see set_l2_prefetch_bytes), so that memory
// keeps streaming weights through the launch gap and the small kernels between two products.
constexpr size_t kMaxMatvecGroup = 3;
struct NextWeights {
    const DeviceMatrix* matrices[kMaxMatvecGroup] = {};
    size_t count = 0;
};
void matvec(const DeviceMatrix& weights, const float* x, const void* activation_blocks,
            size_t tokens, float* out, cudaStream_t stream, bool accumulate = false,
            const NextWeights& next = {});
constexpr size_t kMaxMatvecTokens = 8;

// Several matrices of one width applied to the same input (Q, K and V; gate and up), at most
// kMaxMatvecGroup, all quantized or all of one float type; out of each job as in matvec.
// Quantized matrices share one launch when of one type, or Q4_K with Q6_K (Q4_K_M's mix).
struct MatvecJob {
    const DeviceMatrix* weights;
    float* out;
};
struct QkvRopeStore;
void matvec_group(const MatvecJob* jobs, size_t count, const float* x,
                  const void* activation_blocks, size_t tokens, bool accumulate,
                  cudaStream_t stream, const NextWeights& next = {},
                  const QkvRopeStore* rope_store = nullptr);

// Rows of `weights` (all of them, or those listed in `row_indices`) as float or half values:
// out[i][c]. Used for embedding lookups and to feed tensor-core GEMMs.
void dequantize_rows(const DeviceMatrix& weights, const int32_t* row_indices, size_t row_count,
                     void* out, bool out_half, cudaStream_t stream);

void float_to_half(const float* in, void* out, size_t count, cudaStream_t stream);

// With activation_blocks, also writes the output's int8 blocks, as quantize_activations
// would (size a multiple of 32), which saves the matrix products a launch. With source_rows
// (device memory), output row i is the norm of x's row source_rows[i] (the output head
// normalises only the rows that produce logits).
void rms_norm(const float* x, const float* weight, float* out, size_t tokens, size_t size,
              float epsilon, cudaStream_t stream, void* activation_blocks = nullptr,
              const int32_t* source_rows = nullptr);

struct DeviceRope {
    RopeStyle style = RopeStyle::Normal;
    size_t rotated_dims = 0;
    float freq_base = 10000.0f;
    float position_scale = 1.0f;
    const float* freq_factors = nullptr;  // device pointer or null
};

// Rotates heads[t][head][..] in place at position positions[t].
void rope(float* heads, size_t tokens, size_t head_count, size_t head_dim, const int32_t* positions,
          const DeviceRope& params, cudaStream_t stream);

// Writes the keys and values of `tokens` tokens into row cache_rows[t] of the caches.
void store_kv(const float* keys, const float* values, size_t tokens, size_t kv_dim,
              const int32_t* cache_rows, DType type, void* key_cache, void* value_cache,
              cudaStream_t stream);

struct KvCacheView {
    DType type;
    const int32_t* rows;  // device: the cache row of each token
    void* keys;
    void* values;
};

struct AttentionShape {
    size_t head_count = 0;
    size_t kv_head_count = 0;
    size_t head_dim = 0;
    float scale = 0.0f;  // multiplies q.k (LayerSpec::attention_scale); 0: 1 / sqrt(head_dim)
    size_t window = 0;   // a query sees its last `window` positions (sliding window); 0: all
};

// What Q, K and V get between their products and RoPE, in the kernel that rotates them: the
// products' biases (Qwen 2), then a per-head RMSNorm of queries and keys with head_dim weights
// (Qwen 3, Gemma 3). Null pointers are steps the layer does not have.
struct HeadPrologue {
    const float* query_bias = nullptr;  // [head_count * head_dim]
    const float* key_bias = nullptr;    // [kv_head_count * head_dim]
    const float* value_bias = nullptr;  // [kv_head_count * head_dim]
    const float* query_norm = nullptr;  // [head_dim]
    const float* key_norm = nullptr;    // [head_dim]
    float epsilon = 0.0f;
    bool empty() const {
        return query_bias == nullptr && key_bias == nullptr && value_bias == nullptr &&
               query_norm == nullptr && key_norm == nullptr;
    }
};

// rope_and_store_kv done by the quantized Q, K and V products of a decode step (matvec_group),
// saving its launch: with RoPE on adjacent pairs, a pair's two rows are computed in one block,
// which rotates them and writes key and value rows straight into an F16 cache. The jobs whose
// outputs are `queries`, `keys` and `values` take those parts; `keys` and `values` are left
// unwritten (the cache holds them).
struct QkvRopeStore {
    const float* queries = nullptr;
    const float* keys = nullptr;
    const float* values = nullptr;
    const int32_t* positions = nullptr;   // [tokens]
    const int32_t* cache_rows = nullptr;  // [tokens]
    DeviceRope rope;
    size_t head_dim = 0;
    void* key_cache = nullptr;
    void* value_cache = nullptr;
};
bool qkv_rope_store_possible(const DeviceRope& rope, DType kv_type, size_t head_dim);

// rope on the queries and keys, then store_kv, in one launch (the decode step's three).
// `keys` is rotated in place too. With a non-empty prologue, each head first gets its biases and
// norm (in place: `values` too gets its bias), as the CPU's add_bias_in_place and
// rms_norm_each_in_place would, in the same launch.
void rope_and_store_kv(float* queries, float* keys, float* values, size_t tokens,
                       const AttentionShape& shape, const int32_t* positions,
                       const DeviceRope& params, const KvCacheView& cache, cudaStream_t stream,
                       const HeadPrologue& prologue = {});

// Causal attention of each query token over its sequence's positions 0..positions[t] (the last
// shape.window of them in a sliding-window layer; scores times shape.scale) (online
// softmax; no score matrix is stored). The token itself is at cache row cache_rows[t], so its
// sequence starts at row cache_rows[t] - positions[t]. queries and out:
// [tokens][head_count * head_dim].
// With split_scratch (attention_split_scratch_bytes of device memory), passes of up to
// kMaxSplitTokens tokens are decode passes: each head's rows are split over kAttentionSplits
// blocks and merged by a second kernel (flash-decoding). With rows_in_parallel, an F16 cache and
// heads of a multiple of 8 values, a thread of each block scores a row at a time; and when the
// caller knows that no token sees more than kShortAttentionRows rows (most_visible), one block
// takes each head in one pass, with no merge (most_visible is a promise about speed only: that
// kernel is right for any length). Without split_scratch, or for more tokens, one block per
// head and token. Decode passes also write the output's int8 blocks into activation_blocks when
// given one (head_dim a multiple of 32); the result says whether they did.
bool attention(const float* queries, const void* key_cache, const void* value_cache, DType type,
               const int32_t* positions, const int32_t* cache_rows, size_t tokens,
               const AttentionShape& shape, float* out, float* split_scratch, cudaStream_t stream,
               void* activation_blocks = nullptr, size_t most_visible = SIZE_MAX,
               bool rows_in_parallel = true, bool flash_prefill = true);
// Prompt passes (not decode passes) take flash_prefill_attention when flash_prefill is set:
// tensor cores over tiles of 64 tokens and 64 cache rows, F16 queries, keys, values and weights
// with F32 sums (heads of up to 256 values, GPUs with the shared memory; false otherwise, and
// nothing was launched).
bool flash_prefill_attention(const float* queries, const void* key_cache, const void* value_cache,
                             DType type, const int32_t* positions, const int32_t* cache_rows,
                             size_t tokens, const AttentionShape& shape, float* out,
                             cudaStream_t stream);
constexpr size_t kMaxAttentionHeadDim = 256;
constexpr size_t kAttentionSplits = 16;
constexpr size_t kMaxSplitTokens = 8;
constexpr size_t kShortAttentionRows = 256;
size_t attention_split_scratch_bytes(const AttentionShape& shape);

void swiglu(float* gate, const float* up, size_t count, cudaStream_t stream);
// swiglu over `tokens` rows of `size` values that also writes the result's int8 blocks, as
// quantize_activations would (size a multiple of 32).
void swiglu_quantize(float* gate, const float* up, size_t tokens, size_t size,
                     void* activation_blocks, cudaStream_t stream);
// geglu (gelu_tanh(gate) * up, Gemma) as swiglu and swiglu_quantize are for SwiGLU.
void geglu(float* gate, const float* up, size_t count, cudaStream_t stream);
void geglu_quantize(float* gate, const float* up, size_t tokens, size_t size,
                    void* activation_blocks, cudaStream_t stream);
void add(float* destination, const float* source, size_t count, cudaStream_t stream);
// x[t] += rms_norm(source[t]) * weight for `tokens` rows of `size`: a post-attention or post-FFN
// norm and the residual add after it (Gemma 3), in one launch. With next_weight, also the next
// RMSNorm of the updated x into next_out (and its int8 blocks into activation_blocks when given,
// as rms_norm would write them), saving that norm's launch.
void rms_norm_add(const float* source, const float* weight, float* x, size_t tokens, size_t size,
                  float epsilon, cudaStream_t stream, const float* next_weight = nullptr,
                  float* next_out = nullptr, void* activation_blocks = nullptr);
// values[i] *= factor (embedding scale); values[i] = cap * tanh(values[i] / cap) (soft-capping).
void scale(float* values, size_t count, float factor, cudaStream_t stream);
void softcap(float* values, size_t count, float cap, cudaStream_t stream);

// For each of `rows` rows of `count` values: the index of the largest value (the first one on
// ties), written to result[row].
// scratch: argmax_scratch_bytes of device memory for the most rows of any call, zero before the
// first call (calls leave it zero).
void argmax(const float* values, size_t rows, size_t count, int32_t* result, void* scratch,
            cudaStream_t stream);
size_t argmax_scratch_bytes(size_t rows);

// The k largest values of each of `rows` rows of `vocab` values, best first (the smaller index
// first on ties): top_values and top_indices are [rows][k], k from 1 to max_device_top_k(vocab)
// (128 for a 128k vocabulary); scratch holds top_k_scratch_bytes. Throws for k out of range.
void top_k(const float* logits, size_t rows, size_t vocab, size_t k, void* scratch,
           float* top_values, int32_t* top_indices, cudaStream_t stream);
size_t top_k_scratch_bytes(size_t rows, size_t vocab, size_t k);
constexpr size_t kMaxDeviceTopK = 128;
size_t max_device_top_k(size_t vocab);

// Whether this thread's next kernel launches may start while the kernel before them ends
// (programmatic dependent launch, on GPUs that have it); on by default.
void set_kernel_overlap(bool allowed);
// At most how many bytes of the next weights a matrix-vector launch of this thread asks the L2
// cache to fetch ahead (Hopper's bulk prefetch; nothing on older GPUs); 0 turns it off.
void set_l2_prefetch_bytes(size_t bytes);
constexpr size_t kDefaultL2PrefetchBytes = size_t{4} << 20;  // best of 2-32 MiB on the H100

// Throws llcuda::Error for a launch that failed (bad configuration, no kernel image).
void check_launch(const char* what);

}  // namespace llcuda::cuda
