// The scalar kernels: the integer sums written out plainly. They define the summation order the
// SIMD kernels keep, and run on any CPU.
#include <array>

#include "backend/cpu/kernels/kernel_table.hpp"
#include "backend/cpu/kernels/vec_dot_finish.hpp"
#include "core/half.hpp"
#include "core/quant/blocks.hpp"

namespace llcuda {
namespace {

float vec_dot_q8_0_q8_0(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ8_0*>(weights);
    const auto* y = static_cast<const BlockQ8_0*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK8_0; ++b) {
        int32_t block_sum = 0;
        for (size_t i = 0; i < kQK8_0; ++i) block_sum += x[b].qs[i] * y[b].qs[i];
        sum += kernels::finish_scale(half_to_float(x[b].d), half_to_float(y[b].d), block_sum);
    }
    return sum;
}

float vec_dot_q4_0_q8_0(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ4_0*>(weights);
    const auto* y = static_cast<const BlockQ8_0*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK8_0; ++b) {
        int32_t block_sum = 0;
        for (size_t i = 0; i < 16; ++i) {
            block_sum += ((x[b].qs[i] & 0x0F) - 8) * y[b].qs[i];
            block_sum += ((x[b].qs[i] >> 4) - 8) * y[b].qs[i + 16];
        }
        sum += kernels::finish_scale(half_to_float(x[b].d), half_to_float(y[b].d), block_sum);
    }
    return sum;
}

float vec_dot_q4_k_q8_k(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ4_K*>(weights);
    const auto* y = static_cast<const BlockQ8_K*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK_K; ++b) {
        int32_t scaled_sum = 0;
        int32_t min_sum = 0;
        for (int sub = 0; sub < 8; ++sub) {
            int scale, min;
            kernels::scale_min_k4(x[b].scales, sub, scale, min);
            const uint8_t* qs = x[b].qs + (sub / 2) * 32;
            const int shift = (sub % 2) * 4;
            const int8_t* q8 = y[b].qs + sub * 32;
            int32_t sub_sum = 0;
            for (int l = 0; l < 32; ++l) sub_sum += ((qs[l] >> shift) & 0x0F) * q8[l];
            scaled_sum += scale * sub_sum;
            min_sum += min * (y[b].bsums[2 * sub] + y[b].bsums[2 * sub + 1]);
        }
        sum += kernels::finish_scale_min(half_to_float(x[b].d), half_to_float(x[b].dmin), y[b].d,
                                         scaled_sum, min_sum);
    }
    return sum;
}

float vec_dot_q6_k_q8_k(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ6_K*>(weights);
    const auto* y = static_cast<const BlockQ8_K*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK_K; ++b) {
        int32_t scaled_sum = 0;
        for (size_t half = 0; half < 2; ++half) {
            const uint8_t* ql = x[b].ql + half * 64;
            const uint8_t* qh = x[b].qh + half * 32;
            for (size_t group = 0; group < 8; ++group) {
                int32_t group_sum = 0;
                for (size_t l = 0; l < 16; ++l) {
                    const size_t e = group * 16 + l;
                    const int low = (ql[e % 64] >> (e >= 64 ? 4 : 0)) & 0x0F;
                    const int high = (qh[e % 32] >> (2 * (e / 32))) & 3;
                    group_sum += (low | (high << 4)) * y[b].qs[half * 128 + e];
                }
                const size_t index = half * 8 + group;
                // The codes are stored +32; the bias comes off with the activations' block sums.
                scaled_sum += x[b].scales[index] * (group_sum - 32 * y[b].bsums[index]);
            }
        }
        sum += kernels::finish_scale(half_to_float(x[b].d), y[b].d, scaled_sum);
    }
    return sum;
}

float vec_dot_q4_1_q8_0(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ4_1*>(weights);
    const auto* y = static_cast<const BlockQ8_0*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK8_0; ++b) {
        int32_t block_sum = 0;
        int32_t y_sum = 0;
        for (size_t i = 0; i < 16; ++i) {
            block_sum += (x[b].qs[i] & 0x0F) * y[b].qs[i];
            block_sum += (x[b].qs[i] >> 4) * y[b].qs[i + 16];
        }
        for (size_t i = 0; i < kQK8_0; ++i) y_sum += y[b].qs[i];
        sum += kernels::finish_scale_offset(half_to_float(x[b].d), half_to_float(x[b].m),
                                            half_to_float(y[b].d), block_sum, y_sum);
    }
    return sum;
}

// The five-bit codes of Q5_0/Q5_1, unsigned (0..31): element i's fifth bit is bit i of qh.
inline int code_5bit(const uint8_t* qs, const uint8_t* qh, size_t i) {
    const uint32_t high_bits = static_cast<uint32_t>(qh[0]) | (static_cast<uint32_t>(qh[1]) << 8) |
                               (static_cast<uint32_t>(qh[2]) << 16) |
                               (static_cast<uint32_t>(qh[3]) << 24);
    const int low = i < 16 ? (qs[i] & 0x0F) : (qs[i - 16] >> 4);
    return low | static_cast<int>(((high_bits >> i) & 1u) << 4);
}

float vec_dot_q5_0_q8_0(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ5_0*>(weights);
    const auto* y = static_cast<const BlockQ8_0*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK8_0; ++b) {
        int32_t block_sum = 0;
        int32_t y_sum = 0;
        for (size_t i = 0; i < kQK8_0; ++i)
            block_sum += code_5bit(x[b].qs, x[b].qh, i) * y[b].qs[i];
        for (size_t i = 0; i < kQK8_0; ++i) y_sum += y[b].qs[i];
        // The codes are stored +16; the bias comes off with the activations' sum.
        sum += kernels::finish_scale(half_to_float(x[b].d), half_to_float(y[b].d),
                                     block_sum - 16 * y_sum);
    }
    return sum;
}

float vec_dot_q5_1_q8_0(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ5_1*>(weights);
    const auto* y = static_cast<const BlockQ8_0*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK8_0; ++b) {
        int32_t block_sum = 0;
        int32_t y_sum = 0;
        for (size_t i = 0; i < kQK8_0; ++i)
            block_sum += code_5bit(x[b].qs, x[b].qh, i) * y[b].qs[i];
        for (size_t i = 0; i < kQK8_0; ++i) y_sum += y[b].qs[i];
        sum += kernels::finish_scale_offset(half_to_float(x[b].d), half_to_float(x[b].m),
                                            half_to_float(y[b].d), block_sum, y_sum);
    }
    return sum;
}

float vec_dot_q2_k_q8_k(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ2_K*>(weights);
    const auto* y = static_cast<const BlockQ8_K*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK_K; ++b) {
        int32_t scaled_sum = 0;
        int32_t min_sum = 0;
        for (size_t sub = 0; sub < 16; ++sub) {
            int32_t sub_sum = 0;
            for (size_t l = 0; l < 16; ++l) {
                const size_t e = sub * 16 + l;
                const int code = (x[b].qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
                sub_sum += code * y[b].qs[e];
            }
            scaled_sum += (x[b].scales[sub] & 0x0F) * sub_sum;
            min_sum += (x[b].scales[sub] >> 4) * y[b].bsums[sub];
        }
        sum += kernels::finish_scale_min(half_to_float(x[b].d), half_to_float(x[b].dmin), y[b].d,
                                         scaled_sum, min_sum);
    }
    return sum;
}

float vec_dot_q3_k_q8_k(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ3_K*>(weights);
    const auto* y = static_cast<const BlockQ8_K*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK_K; ++b) {
        int32_t scaled_sum = 0;
        for (size_t sub = 0; sub < 16; ++sub) {
            int32_t sub_sum = 0;
            for (size_t l = 0; l < 16; ++l) {
                const size_t e = sub * 16 + l;
                const int low = (x[b].qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
                const int high = (x[b].hmask[e % 32] >> (e / 32)) & 1;
                sub_sum += (low | (high << 2)) * y[b].qs[e];
            }
            // The codes are stored +4; the bias comes off with the activations' block sums.
            scaled_sum += kernels::q3_k_scale(x[b].scales, sub) * (sub_sum - 4 * y[b].bsums[sub]);
        }
        sum += kernels::finish_scale(half_to_float(x[b].d), y[b].d, scaled_sum);
    }
    return sum;
}

float vec_dot_q5_k_q8_k(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ5_K*>(weights);
    const auto* y = static_cast<const BlockQ8_K*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK_K; ++b) {
        int32_t scaled_sum = 0;
        int32_t min_sum = 0;
        for (int sub = 0; sub < 8; ++sub) {
            int scale, min;
            kernels::scale_min_k4(x[b].scales, sub, scale, min);
            const uint8_t* qs = x[b].qs + (sub / 2) * 32;
            const int shift = (sub % 2) * 4;
            const int8_t* q8 = y[b].qs + sub * 32;
            int32_t sub_sum = 0;
            for (int l = 0; l < 32; ++l) {
                const int code = ((qs[l] >> shift) & 0x0F) | (((x[b].qh[l] >> sub) & 1) << 4);
                sub_sum += code * q8[l];
            }
            scaled_sum += scale * sub_sum;
            min_sum += min * (y[b].bsums[2 * sub] + y[b].bsums[2 * sub + 1]);
        }
        sum += kernels::finish_scale_min(half_to_float(x[b].d), half_to_float(x[b].dmin), y[b].d,
                                         scaled_sum, min_sum);
    }
    return sum;
}

float vec_dot_q8_k_q8_k(const void* weights, const void* activations, size_t count) {
    const auto* x = static_cast<const BlockQ8_K*>(weights);
    const auto* y = static_cast<const BlockQ8_K*>(activations);
    float sum = 0.0f;
    for (size_t b = 0; b < count / kQK_K; ++b) {
        int32_t block_sum = 0;
        for (size_t i = 0; i < kQK_K; ++i) block_sum += x[b].qs[i] * y[b].qs[i];
        sum += kernels::finish_scale(x[b].d, y[b].d, block_sum);
    }
    return sum;
}

// The float formats take the activations as floats. kernels::kFloatLanes partial sums, element
// i into lane i % kFloatLanes, folded in the SIMD kernels' order; the tail past the last full
// round is added one by one.
template <float (*Load)(const void*, size_t)>
float vec_dot_float(const void* weights, const void* activations, size_t count) {
    const auto* y = static_cast<const float*>(activations);
    float lanes[kernels::kFloatLanes] = {};
    const size_t full = count / kernels::kFloatLanes * kernels::kFloatLanes;
    for (size_t i = 0; i < full; i += kernels::kFloatLanes) {
        for (size_t lane = 0; lane < kernels::kFloatLanes; ++lane)
            lanes[lane] += Load(weights, i + lane) * y[i + lane];
    }
    float sum = kernels::fold_float_lanes(lanes);
    for (size_t i = full; i < count; ++i) sum += Load(weights, i) * y[i];
    return sum;
}

float load_f32(const void* row, size_t i) { return static_cast<const float*>(row)[i]; }
float load_f16(const void* row, size_t i) {
    return half_to_float(static_cast<const uint16_t*>(row)[i]);
}
float load_bf16(const void* row, size_t i) {
    return bf16_to_float(static_cast<const uint16_t*>(row)[i]);
}

constexpr std::array kScalarKernels{
    CpuKernel{DType::Q4_0, DType::Q8_0, vec_dot_q4_0_q8_0},
    CpuKernel{DType::Q4_1, DType::Q8_0, vec_dot_q4_1_q8_0},
    CpuKernel{DType::Q5_0, DType::Q8_0, vec_dot_q5_0_q8_0},
    CpuKernel{DType::Q5_1, DType::Q8_0, vec_dot_q5_1_q8_0},
    CpuKernel{DType::Q8_0, DType::Q8_0, vec_dot_q8_0_q8_0},
    CpuKernel{DType::Q2_K, DType::Q8_K, vec_dot_q2_k_q8_k},
    CpuKernel{DType::Q3_K, DType::Q8_K, vec_dot_q3_k_q8_k},
    CpuKernel{DType::Q4_K, DType::Q8_K, vec_dot_q4_k_q8_k},
    CpuKernel{DType::Q5_K, DType::Q8_K, vec_dot_q5_k_q8_k},
    CpuKernel{DType::Q6_K, DType::Q8_K, vec_dot_q6_k_q8_k},
    CpuKernel{DType::Q8_K, DType::Q8_K, vec_dot_q8_k_q8_k},
    CpuKernel{DType::F32, DType::F32, vec_dot_float<load_f32>},
    CpuKernel{DType::F16, DType::F32, vec_dot_float<load_f16>},
    CpuKernel{DType::BF16, DType::F32, vec_dot_float<load_bf16>},
};

// The scalar tiles: each activation row through the scalar vec_dot, the order the SIMD tiles keep.
template <VecDot Dot>
void vec_dot_rows(const void* weights, const void* activations, size_t activation_row_bytes,
                  size_t activation_rows, size_t count, float* out, size_t out_stride) {
    const auto* rows = static_cast<const uint8_t*>(activations);
    for (size_t j = 0; j < activation_rows; ++j)
        out[j * out_stride] = Dot(weights, rows + j * activation_row_bytes, count);
}

constexpr std::array kScalarTileKernels{
    CpuTileKernel{DType::Q8_0, vec_dot_rows<vec_dot_q8_0_q8_0>},
    CpuTileKernel{DType::Q4_K, vec_dot_rows<vec_dot_q4_k_q8_k>},
    CpuTileKernel{DType::Q6_K, vec_dot_rows<vec_dot_q6_k_q8_k>},
};

}  // namespace

std::span<const CpuKernel> scalar_kernels() { return kScalarKernels; }
std::span<const CpuTileKernel> scalar_tile_kernels() { return kScalarTileKernels; }

}  // namespace llcuda
