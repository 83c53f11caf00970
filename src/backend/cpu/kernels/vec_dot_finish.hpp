#pragma once
// The float steps of each vec_dot, shared by the scalar and SIMD kernels so both do them in the
// same order (the kernel files are compiled with -ffp-contract=off, so no FMA changes a
// rounding). Internal linkage on purpose: a copy compiled with AVX2 flags must never be the one
// the linker keeps for the scalar file.
#include <cstddef>
#include <cstdint>

namespace llcuda::kernels {
namespace {

// A Q4_K/Q5_K super-block: d * dy * sum(scale * q * y) - dmin * dy * sum(min * y).
inline float finish_scale_min(float d, float dmin, float dy, int32_t scaled_sum, int32_t min_sum) {
    return d * dy * static_cast<float>(scaled_sum) - dmin * dy * static_cast<float>(min_sum);
}

// A block with one scale per side: dx * dy * sum(q * y).
inline float finish_scale(float dx, float dy, int32_t sum) {
    return dx * dy * static_cast<float>(sum);
}

// A block with an offset (Q4_1, Q5_1): dx * dy * sum(q * y) + m * dy * sum(y).
inline float finish_scale_offset(float dx, float m, float dy, int32_t sum, int32_t y_sum) {
    return dx * dy * static_cast<float>(sum) + m * dy * static_cast<float>(y_sum);
}

// The float formats' partial sums: four AVX2 registers of eight lanes, element i in lane
// i % 32, so four independent add chains hide the adds' latency.
constexpr size_t kFloatLanes = 32;

// The 32 partial sums folded as the AVX2 kernel does: the four registers added pairwise, then
// the two 128-bit halves, then lanes 0+2 and 1+3, then the last two.
inline float fold_float_lanes(const float* lanes) {
    float eight[8], four[4];
    for (int j = 0; j < 8; ++j)
        eight[j] = (lanes[j] + lanes[8 + j]) + (lanes[16 + j] + lanes[24 + j]);
    for (int j = 0; j < 4; ++j) four[j] = eight[j] + eight[j + 4];
    return (four[0] + four[2]) + (four[1] + four[3]);
}

// The signed 6-bit scale of Q3_K's sub-block `index` (stored + 32, low nibbles then 2-bit highs).
inline int q3_k_scale(const uint8_t* packed, size_t index) {
    const int low = index < 8 ? (packed[index] & 0x0F) : (packed[index - 8] >> 4);
    const int high = (packed[8 + index % 4] >> (2 * (index / 4))) & 3;
    return (low | (high << 4)) - 32;
}

// The 6-bit scale/min pairs of Q4_K and Q5_K (core/quant's unpack_scale_min_k4, inlined here).
inline void scale_min_k4(const uint8_t* packed, int index, int& scale, int& min) {
    if (index < 4) {
        scale = packed[index] & 63;
        min = packed[index + 4] & 63;
    } else {
        scale = (packed[index + 4] & 0x0F) | ((packed[index - 4] >> 6) << 4);
        min = (packed[index + 4] >> 4) | ((packed[index] >> 6) << 4);
    }
}

}  // namespace
}  // namespace llcuda::kernels
