#pragma once
// One RoPE rotation, shared by the kernels that rotate (rope, rope-and-store, and the Q/K/V
// matrix-vector products that rotate their own rows) so that all give the same bits. The
// products are rounded one by one (no fused multiply-add), which the compiler would otherwise
// apply differently in each kernel.
#include "backend/cuda/cuda_ops.hpp"

namespace llcuda::cuda {

// Cosine and sine of pair `pair`'s angle at `position`.
__device__ __forceinline__ float2 rope_cos_sin(size_t pair, int position,
                                               const DeviceRope& params) {
    float frequency = 1.0f / powf(params.freq_base, static_cast<float>(2 * pair) /
                                                        static_cast<float>(params.rotated_dims));
    if (params.freq_factors != nullptr) frequency /= params.freq_factors[pair];
    const float angle = static_cast<float>(position) * params.position_scale * frequency;
    return make_float2(cosf(angle), sinf(angle));
}

// The pair (a, b) rotated: a * cos - b * sin, a * sin + b * cos.
__device__ __forceinline__ float rope_first(float a, float b, float2 cos_sin) {
    return __fsub_rn(__fmul_rn(a, cos_sin.x), __fmul_rn(b, cos_sin.y));
}
__device__ __forceinline__ float rope_second(float a, float b, float2 cos_sin) {
    return __fadd_rn(__fmul_rn(a, cos_sin.y), __fmul_rn(b, cos_sin.x));
}

// Rotates pair `pair` of one head's values by the angle of `position`.
__device__ __forceinline__ void rope_rotate_pair(float* values, size_t pair, int position,
                                                 const DeviceRope& params) {
    const size_t pairs = params.rotated_dims / 2;
    const float2 cos_sin = rope_cos_sin(pair, position, params);
    const size_t first = params.style == RopeStyle::Normal ? 2 * pair : pair;
    const size_t second = params.style == RopeStyle::Normal ? 2 * pair + 1 : pair + pairs;
    const float a = values[first];
    const float b = values[second];
    values[first] = rope_first(a, b, cos_sin);
    values[second] = rope_second(a, b, cos_sin);
}

}  // namespace llcuda::cuda
