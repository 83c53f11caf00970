#include "backend/cpu/cpu_ops.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/kernels/kernel_table.hpp"
#include "core/error.hpp"
#include "core/quant/quant.hpp"

namespace llcuda {

void rms_norm(const float* x, const float* weight, float* out, size_t size, float epsilon) {
    float sum_of_squares = 0.0f;
    for (size_t i = 0; i < size; ++i) sum_of_squares += x[i] * x[i];
    sum_of_squares /= static_cast<float>(size);
    sum_of_squares += epsilon;
    const float scale = 1.0f / std::sqrt(sum_of_squares);
    for (size_t i = 0; i < size; ++i) out[i] = weight[i] * (scale * x[i]);
}

void apply_rope(float* heads, size_t head_count, size_t head_dim, size_t position,
                const RopeParams& params) {
    const size_t pairs = params.rotated_dims / 2;
    const float scaled_position = static_cast<float>(position) * params.position_scale;
    for (size_t pair = 0; pair < pairs; ++pair) {
        float frequency =
            1.0f / std::pow(params.freq_base,
                            static_cast<float>(2 * pair) / static_cast<float>(params.rotated_dims));
        if (params.freq_factors != nullptr) frequency /= params.freq_factors[pair];
        const float angle = scaled_position * frequency;
        const float cosine = std::cos(angle);
        const float sine = std::sin(angle);
        const size_t first = params.style == RopeStyle::Normal ? 2 * pair : pair;
        const size_t second = params.style == RopeStyle::Normal ? 2 * pair + 1 : pair + pairs;
        for (size_t head = 0; head < head_count; ++head) {
            float* values = heads + head * head_dim;
            const float a = values[first];
            const float b = values[second];
            values[first] = a * cosine - b * sine;
            values[second] = a * sine + b * cosine;
        }
    }
}

void softmax_in_place(float* values, size_t size) {
    float max_value = values[0];
    for (size_t i = 1; i < size; ++i) max_value = std::max(max_value, values[i]);
    float sum = 0.0f;
    for (size_t i = 0; i < size; ++i) {
        values[i] = std::exp(values[i] - max_value);
        sum += values[i];
    }
    for (size_t i = 0; i < size; ++i) values[i] /= sum;
}

void swiglu_in_place(float* gate, const float* up, size_t size) {
    for (size_t i = 0; i < size; ++i) {
        const float value = gate[i];
        gate[i] = value * (1.0f / (1.0f + std::exp(-value))) * up[i];
    }
}

float gelu_tanh(float x) {
    constexpr float kSqrtTwoOverPi = 0.7978845608028654f;
    return 0.5f * x * (1.0f + std::tanh(kSqrtTwoOverPi * (x + 0.044715f * x * x * x)));
}

void geglu_in_place(float* gate, const float* up, size_t size) {
    for (size_t i = 0; i < size; ++i) gate[i] = gelu_tanh(gate[i]) * up[i];
}

void add_in_place(float* destination, const float* source, size_t size) {
    for (size_t i = 0; i < size; ++i) destination[i] += source[i];
}

void add_bias_in_place(float* x, const float* bias, size_t rows, size_t width) {
    for (size_t r = 0; r < rows; ++r) add_in_place(x + r * width, bias, width);
}

void rms_norm_each_in_place(float* x, const float* weight, size_t count, size_t width,
                            float epsilon) {
    for (size_t i = 0; i < count; ++i)
        rms_norm(x + i * width, weight, x + i * width, width, epsilon);
}

void scale_in_place(float* values, size_t size, float factor) {
    for (size_t i = 0; i < size; ++i) values[i] *= factor;
}

void softcap_in_place(float* values, size_t size, float cap) {
    for (size_t i = 0; i < size; ++i) values[i] = cap * std::tanh(values[i] / cap);
}

void matmul(const WeightMatrix& weights, const float* inputs, float* outputs, size_t token_count,
            ThreadPool& pool) {
    const size_t rows = weights.rows;
    const size_t columns = weights.columns;
    if (token_count == 1) {
        pool.parallel_for(rows, [&](size_t begin, size_t end) {
            for (size_t r = begin; r < end; ++r) {
                outputs[r] = dot_row(weights.type, weights.row(r), inputs, columns);
            }
        });
        return;
    }
    // Batched prompt processing: each weight row is expanded to floats once and reused for
    // every token, so the weights are read once per batch instead of once per token. The sums
    // run block by block in dot_row's order, so a token's result does not depend on the batch
    // it is in (sequences decoded together give the same text as alone).
    const size_t block = dtype_traits(weights.type).block_elements;
    pool.parallel_for(rows, [&](size_t begin, size_t end) {
        std::vector<float> row_values(columns);
        for (size_t r = begin; r < end; ++r) {
            dequantize_row(weights.type, weights.row(r), row_values.data(), columns);
            for (size_t t = 0; t < token_count; ++t) {
                const float* x = inputs + t * columns;
                float sum = 0.0f;
                for (size_t b = 0; b < columns; b += block) {
                    float block_sum = 0.0f;
                    for (size_t c = b; c < b + block; ++c) block_sum += row_values[c] * x[c];
                    sum += block_sum;
                }
                outputs[t * rows + r] = sum;
            }
        }
    });
}

namespace {

// Rows per chunk of a fast product so that a chunk holds at least 16K multiply-adds (a few
// microseconds): below that, handing rows to another thread costs more than it saves
// (stories260K's 64-wide products ran slower on 2 threads than on 1).
size_t min_rows_per_chunk(size_t columns, size_t token_count) {
    constexpr size_t kMinimumChunkWork = 16384;
    return (kMinimumChunkWork + columns * token_count - 1) / (columns * token_count);
}

// A prompt's product through a tiled kernel: weight rows by activation rows.
struct TiledProduct {
    const WeightMatrix& weights;
    const uint8_t* activations;
    size_t activation_row_bytes;
    float* outputs;
    size_t token_count;
    VecDotRows vec_dot_rows;
};

// Weight rows [begin, end) against every token, kTileActivationRows tokens per call. The rows
// go in blocks of at most 256 KB, and each block meets every group of tokens before the next
// block starts: the block stays in L2 (1 MB a core on this EPYC) and the group's activations
// (4 x 9.3 KB at 8192 columns) in L1, instead of all the tokens' activations (up to 600 KB
// for 64 tokens) streaming from L2 for every weight row.
void run_tiles(const TiledProduct& product, size_t begin, size_t end) {
    const WeightMatrix& weights = product.weights;
    constexpr size_t kBlockBytes = 256 * 1024;
    const size_t block_rows = std::max<size_t>(1, kBlockBytes / weights.row_stride_bytes);
    for (size_t block = begin; block < end; block += block_rows) {
        const size_t block_end = std::min(end, block + block_rows);
        for (size_t t = 0; t < product.token_count; t += kTileActivationRows) {
            const size_t group = std::min(kTileActivationRows, product.token_count - t);
            const uint8_t* activations = product.activations + t * product.activation_row_bytes;
            float* outputs = product.outputs + t * weights.rows;
            for (size_t r = block; r < block_end; ++r)
                product.vec_dot_rows(weights.row(r), activations, product.activation_row_bytes,
                                     group, weights.columns, outputs + r, weights.rows);
        }
    }
}

}  // namespace

void matmul_fast(const WeightMatrix& weights, const float* inputs, float* outputs,
                 size_t token_count, ThreadPool& pool) {
    const CpuKernel* kernel = find_cpu_kernel(selected_cpu_isa(), weights.type);
    if (kernel == nullptr) return matmul(weights, inputs, outputs, token_count, pool);
    const size_t rows = weights.rows;
    const size_t columns = weights.columns;
    const auto& activation = dtype_traits(kernel->activation_type);
    const size_t activation_row_bytes =
        columns / activation.block_elements * activation.block_bytes;
    // One buffer per thread reused across calls: a decode step makes hundreds of these. The
    // float formats take the activations as they are.
    thread_local std::vector<uint8_t> quantized;
    const uint8_t* activations = reinterpret_cast<const uint8_t*>(inputs);
    if (kernel->activation_type != DType::F32) {
        quantized.resize(activation_row_bytes * token_count);
        for (size_t t = 0; t < token_count; ++t) {
            quantize_row(kernel->activation_type, inputs + t * columns,
                         quantized.data() + t * activation_row_bytes, columns);
        }
        activations = quantized.data();
    }
    // Prompts (more than one token) run the tiles: synth llama3-1b Q4_K_M, bench --device cpu
    // -p 64 -n 32 -r 2 on this 2-core EPYC (avx512vnni, load average 4-5 from other builds):
    // pp64 13.1 -> 21.0 tok/s with 2 threads, 14.7 -> 18.3 with 1 (row by row -> tiles); with
    // the AVX-512 Q4_K tile's four rows reduced and finished together, 39.9 and 38.4 (load 2);
    // Q6_K's too, best of 2 runs 49.9 and 39.4 (load 4).
    const CpuTileKernel* tile = find_cpu_tile_kernel(selected_cpu_isa(), weights.type);
    if (tile != nullptr && token_count > 1) {
        const TiledProduct product{.weights = weights,
                                   .activations = activations,
                                   .activation_row_bytes = activation_row_bytes,
                                   .outputs = outputs,
                                   .token_count = token_count,
                                   .vec_dot_rows = tile->vec_dot_rows};
        pool.parallel_for(
            rows, [&](size_t begin, size_t end) { run_tiles(product, begin, end); },
            min_rows_per_chunk(columns, token_count));
        return;
    }
    const VecDot vec_dot = kernel->vec_dot;
    pool.parallel_for(
        rows,
        [&](size_t begin, size_t end) {
            for (size_t r = begin; r < end; ++r) {
                const uint8_t* row = weights.row(r);
                for (size_t t = 0; t < token_count; ++t) {
                    outputs[t * rows + r] =
                        vec_dot(row, activations + t * activation_row_bytes, columns);
                }
            }
        },
        min_rows_per_chunk(columns, token_count));
}

CpuKernels parse_cpu_kernels(std::string_view name) {
    if (name == "reference") return CpuKernels::Reference;
    if (name == "fast") return CpuKernels::Fast;
    throw Error("--cpu-kernels must be reference or fast, not '" + std::string(name) + "'");
}

std::string cpu_kernels_description(CpuKernels kernels) {
    if (kernels == CpuKernels::Reference) return "reference";
    return "fast (" + std::string(cpu_isa_name(selected_cpu_isa())) + ")";
}

}  // namespace llcuda
