#pragma once
// The float steps of each vec_dot, shared by the scalar and SIMD kernels so both do them in the
// same order (the kernel files are compiled with -ffp-contract=off, so no FMA changes a
// rounding). Internal linkage on purpose: a copy compiled with AVX2 flags must never be the one
// the linker keeps for the scalar file.
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
