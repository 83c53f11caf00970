#pragma once
// One RoPE rotation, shared by the rope kernel and the fused rope-and-store kernel so that both
// give the same bits.
#include "backend/cuda/cuda_ops.hpp"

namespace llcuda::cuda {

// Rotates pair `pair` of one head's values by the angle of `position`.
__device__ __forceinline__ void rope_rotate_pair(float* values, size_t pair, int position,
                                                 const DeviceRope& params) {
    const size_t pairs = params.rotated_dims / 2;
    float frequency = 1.0f / powf(params.freq_base, static_cast<float>(2 * pair) /
                                                        static_cast<float>(params.rotated_dims));
    if (params.freq_factors != nullptr) frequency /= params.freq_factors[pair];
    const float angle = static_cast<float>(position) * params.position_scale * frequency;
    const float cosine = cosf(angle);
    const float sine = sinf(angle);
    const size_t first = params.style == RopeStyle::Normal ? 2 * pair : pair;
    const size_t second = params.style == RopeStyle::Normal ? 2 * pair + 1 : pair + pairs;
    const float a = values[first];
    const float b = values[second];
    values[first] = a * cosine - b * sine;
    values[second] = a * sine + b * cosine;
}

}  // namespace llcuda::cuda
