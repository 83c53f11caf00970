#pragma once
// Quantizing activations into ActivationBlocks, shared by the kernels that write them
// (quantize_activations, and RMSNorm and SwiGLU fused with it) so that all give the same bits:
// d = max |x| / 127, q = round(x / d).
#include <fmt/format.h>

#include "backend/cuda/kernels/quant_unpack.cuh"
#include "backend/cuda/kernels/warp_reduce.cuh"
#include "core/error.hpp"

namespace llcuda::cuda {

// Throws unless rows of `values` activations are whole 32-value blocks.
inline void require_whole_activation_blocks(size_t values) {
    if (values % 32 != 0)
        throw Error(fmt::format("activations of {} values are not whole 32-value blocks", values));
}

__device__ __forceinline__ int quantize_value(float value, float d) {
    return d > 0.0f ? static_cast<int>(rintf(value / d)) : 0;
}

// A warp's 32 values, lane i holding element i.
__device__ __forceinline__ void quantize_warp_block(float value, ActivationBlock& block) {
    const int lane = threadIdx.x % 32;
    const float d = warp_max(fabsf(value)) / 127.0f;
    const int q = quantize_value(value, d);
    reinterpret_cast<int8_t*>(block.q)[lane] = static_cast<int8_t>(q);
    int half_sum = q;
    for (int offset = 1; offset < 16; offset *= 2)
        half_sum += __shfl_xor_sync(0xFFFFFFFFu, half_sum, offset);
    if (lane % 16 == 0) block.sum[lane / 16] = d * static_cast<float>(half_sum);
    if (lane == 0) block.d = d;
}

// 32 values held four each by 8 consecutive lanes (all 32 lanes of the warp call it; lanes
// with `valid` false take part in the shuffles only).
__device__ __forceinline__ void quantize_group_of_8(float4 v, ActivationBlock& block,
                                                    int lane_in_group, bool valid) {
    float amax = fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w)));
    for (int offset = 1; offset < 8; offset *= 2)
        amax = fmaxf(amax, __shfl_xor_sync(0xFFFFFFFFu, amax, offset));
    const float d = amax / 127.0f;
    const int q[4] = {quantize_value(v.x, d), quantize_value(v.y, d), quantize_value(v.z, d),
                      quantize_value(v.w, d)};
    int half_sum = q[0] + q[1] + q[2] + q[3];
    for (int offset = 1; offset < 4; offset *= 2)
        half_sum += __shfl_xor_sync(0xFFFFFFFFu, half_sum, offset);
    if (!valid) return;
    uint32_t packed = 0;
    for (int i = 0; i < 4; ++i)
        packed |= static_cast<uint32_t>(static_cast<uint8_t>(q[i])) << (8 * i);
    block.q[lane_in_group] = static_cast<int>(packed);
    if (lane_in_group % 4 == 0) block.sum[lane_in_group / 4] = d * static_cast<float>(half_sum);
    if (lane_in_group == 0) block.d = d;
}

}  // namespace llcuda::cuda
