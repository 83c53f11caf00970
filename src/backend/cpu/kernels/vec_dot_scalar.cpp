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

constexpr std::array kScalarKernels{
    CpuKernel{DType::Q4_0, DType::Q8_0, vec_dot_q4_0_q8_0},
    CpuKernel{DType::Q8_0, DType::Q8_0, vec_dot_q8_0_q8_0},
    CpuKernel{DType::Q4_K, DType::Q8_K, vec_dot_q4_k_q8_k},
    CpuKernel{DType::Q6_K, DType::Q8_K, vec_dot_q6_k_q8_k},
};

}  // namespace

std::span<const CpuKernel> scalar_kernels() { return kScalarKernels; }

}  // namespace llcuda
