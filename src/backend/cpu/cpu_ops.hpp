#pragma once
// The CPU reference ops of the forward pass. Kept plain (float accumulation in a fixed order)
// because they are the oracle the CUDA kernels are tested against.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "backend/cpu/thread_pool.hpp"
#include "core/dtype.hpp"

namespace llcuda {

// A 2-D weight matrix in its storage type: `rows` rows of `columns` elements each.
struct WeightMatrix {
    DType type = DType::F32;
    const uint8_t* data = nullptr;
    size_t rows = 0;
    size_t columns = 0;
    size_t row_stride_bytes = 0;
    const uint8_t* row(size_t index) const { return data + index * row_stride_bytes; }
};

enum class RopeStyle {
    Normal,  // rotates adjacent pairs (x[2i], x[2i+1]): llama, mistral
    NeoX,    // rotates (x[i], x[i + n/2]): qwen2, gemma, neox
};

struct RopeParams {
    RopeStyle style = RopeStyle::Normal;
    size_t rotated_dims = 0;  // leading dims of each head that rotate (even)
    float freq_base = 10000.0f;
    float position_scale = 1.0f;          // 1/factor for linear scaling
    const float* freq_factors = nullptr;  // llama 3 scaling: divides each pair's frequency
};

// out[i] = x[i] / rms(x) * weight[i]
void rms_norm(const float* x, const float* weight, float* out, size_t size, float epsilon);

// Rotates `head_count` heads of `head_dim` values in place for one position.
void apply_rope(float* heads, size_t head_count, size_t head_dim, size_t position,
                const RopeParams& params);

void softmax_in_place(float* values, size_t size);

// gate[i] = silu(gate[i]) * up[i]
void swiglu_in_place(float* gate, const float* up, size_t size);

float gelu_tanh(float x);

// gate[i] = gelu(gate[i]) * up[i], GELU in its tanh approximation (Gemma's GeGLU)
void geglu_in_place(float* gate, const float* up, size_t size);

void add_in_place(float* destination, const float* source, size_t size);

// x[r][i] += bias[i] for `rows` rows of `width` values (Qwen 2's Q, K and V biases)
void add_bias_in_place(float* x, const float* bias, size_t rows, size_t width);

// Each of `count` consecutive vectors of `width` values is RMS-normalised in place with the same
// weight (per-head Q and K norms of Qwen 3 and Gemma 3).
void rms_norm_each_in_place(float* x, const float* weight, size_t count, size_t width,
                            float epsilon);

void scale_in_place(float* values, size_t size, float factor);

// values[i] = cap * tanh(values[i] / cap) (Gemma's final logit soft-capping)
void softcap_in_place(float* values, size_t size, float cap);

// out[t][r] = dot(weights.row(r), inputs[t]) for t < token_count; inputs and outputs are
// dense [token_count][columns] and [token_count][rows]. Rows are spread over the pool.
void matmul(const WeightMatrix& weights, const float* inputs, float* outputs, size_t token_count,
            ThreadPool& pool);

// The same product with the fast kernels of backend/cpu/kernels: each token's activations are
// quantized once (Q8_K or Q8_0, as the weight type's kernel asks) and every row's int8 dot runs
// on the best ISA of this CPU. Weight types without a quantized kernel use matmul above.
void matmul_fast(const WeightMatrix& weights, const float* inputs, float* outputs,
                 size_t token_count, ThreadPool& pool);

// Which CPU matrix products run (--cpu-kernels): the float reference (the oracle) or the fast
// quantized kernels.
enum class CpuKernels { Reference, Fast };
// "reference" or "fast"; anything else throws an Error naming --cpu-kernels.
CpuKernels parse_cpu_kernels(std::string_view name);
// "reference", or "fast (avx2)" with the ISA table the fast kernels run on this CPU.
std::string cpu_kernels_description(CpuKernels kernels);

inline void matmul(const WeightMatrix& weights, const float* inputs, float* outputs,
                   size_t token_count, ThreadPool& pool, CpuKernels kernels) {
    if (kernels == CpuKernels::Fast)
        return matmul_fast(weights, inputs, outputs, token_count, pool);
    matmul(weights, inputs, outputs, token_count, pool);
}

}  // namespace llcuda
