#include "core/quant/legacy_quants.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.hpp"
#include "core/quant/quant_helpers.hpp"

namespace llcuda {
namespace {

void min_max(const float* in, size_t count, float& lowest, float& highest) {
    lowest = in[0];
    highest = in[0];
    for (size_t i = 1; i < count; ++i) {
        lowest = std::min(lowest, in[i]);
        highest = std::max(highest, in[i]);
    }
}

float inverse_or_zero(float value) { return value != 0.0f ? 1.0f / value : 0.0f; }

}  // namespace

void dequantize_block(const BlockQ4_0& block, float* out) {
    const float d = half_to_float(block.d);
    for (size_t j = 0; j < kQK4_0 / 2; ++j) {
        out[j] = static_cast<float>((block.qs[j] & 0x0F) - 8) * d;
        out[j + kQK4_0 / 2] = static_cast<float>((block.qs[j] >> 4) - 8) * d;
    }
}

void dequantize_block(const BlockQ4_1& block, float* out) {
    const float d = half_to_float(block.d);
    const float m = half_to_float(block.m);
    for (size_t j = 0; j < kQK4_1 / 2; ++j) {
        out[j] = static_cast<float>(block.qs[j] & 0x0F) * d + m;
        out[j + kQK4_1 / 2] = static_cast<float>(block.qs[j] >> 4) * d + m;
    }
}

void dequantize_block(const BlockQ5_0& block, float* out) {
    const float d = half_to_float(block.d);
    uint32_t high_bits;
    std::memcpy(&high_bits, block.qh, sizeof(high_bits));
    for (size_t j = 0; j < kQK5_0 / 2; ++j) {
        const int low = (block.qs[j] & 0x0F) | static_cast<int>(((high_bits >> j) & 1u) << 4);
        const int high = (block.qs[j] >> 4) | static_cast<int>(((high_bits >> (j + 16)) & 1u) << 4);
        out[j] = static_cast<float>(low - 16) * d;
        out[j + kQK5_0 / 2] = static_cast<float>(high - 16) * d;
    }
}

void dequantize_block(const BlockQ5_1& block, float* out) {
    const float d = half_to_float(block.d);
    const float m = half_to_float(block.m);
    uint32_t high_bits;
    std::memcpy(&high_bits, block.qh, sizeof(high_bits));
    for (size_t j = 0; j < kQK5_1 / 2; ++j) {
        const int low = (block.qs[j] & 0x0F) | static_cast<int>(((high_bits >> j) & 1u) << 4);
        const int high = (block.qs[j] >> 4) | static_cast<int>(((high_bits >> (j + 16)) & 1u) << 4);
        out[j] = static_cast<float>(low) * d + m;
        out[j + kQK5_1 / 2] = static_cast<float>(high) * d + m;
    }
}

void dequantize_block(const BlockQ8_0& block, float* out) {
    const float d = half_to_float(block.d);
    for (size_t j = 0; j < kQK8_0; ++j) out[j] = static_cast<float>(block.qs[j]) * d;
}

void quantize_block(const float* in, BlockQ4_0& block) {
    const float max = signed_absolute_max(in, kQK4_0);
    const float d = max / -8.0f;
    const float id = inverse_or_zero(d);
    block.d = float_to_half(d);
    for (size_t j = 0; j < kQK4_0 / 2; ++j) {
        const int low = std::clamp(static_cast<int>(std::floor(in[j] * id + 8.5f)), 0, 15);
        const int high =
            std::clamp(static_cast<int>(std::floor(in[j + kQK4_0 / 2] * id + 8.5f)), 0, 15);
        block.qs[j] = static_cast<uint8_t>(low | (high << 4));
    }
}

void quantize_block(const float* in, BlockQ4_1& block) {
    float lowest, highest;
    min_max(in, kQK4_1, lowest, highest);
    const float d = (highest - lowest) / 15.0f;
    const float id = inverse_or_zero(d);
    block.d = float_to_half(d);
    block.m = float_to_half(lowest);
    for (size_t j = 0; j < kQK4_1 / 2; ++j) {
        const int low = std::clamp(static_cast<int>(std::lround((in[j] - lowest) * id)), 0, 15);
        const int high =
            std::clamp(static_cast<int>(std::lround((in[j + kQK4_1 / 2] - lowest) * id)), 0, 15);
        block.qs[j] = static_cast<uint8_t>(low | (high << 4));
    }
}

void quantize_block(const float* in, BlockQ5_0& block) {
    const float max = signed_absolute_max(in, kQK5_0);
    const float d = max / -16.0f;
    const float id = inverse_or_zero(d);
    block.d = float_to_half(d);
    uint32_t high_bits = 0;
    for (size_t j = 0; j < kQK5_0 / 2; ++j) {
        const int low = std::clamp(static_cast<int>(std::floor(in[j] * id + 16.5f)), 0, 31);
        const int high =
            std::clamp(static_cast<int>(std::floor(in[j + kQK5_0 / 2] * id + 16.5f)), 0, 31);
        block.qs[j] = static_cast<uint8_t>((low & 0x0F) | ((high & 0x0F) << 4));
        high_bits |= static_cast<uint32_t>((low >> 4) & 1) << j;
        high_bits |= static_cast<uint32_t>((high >> 4) & 1) << (j + 16);
    }
    std::memcpy(block.qh, &high_bits, sizeof(high_bits));
}

void quantize_block(const float* in, BlockQ5_1& block) {
    float lowest, highest;
    min_max(in, kQK5_1, lowest, highest);
    const float d = (highest - lowest) / 31.0f;
    const float id = inverse_or_zero(d);
    block.d = float_to_half(d);
    block.m = float_to_half(lowest);
    uint32_t high_bits = 0;
    for (size_t j = 0; j < kQK5_1 / 2; ++j) {
        const int low = std::clamp(static_cast<int>(std::lround((in[j] - lowest) * id)), 0, 31);
        const int high =
            std::clamp(static_cast<int>(std::lround((in[j + kQK5_1 / 2] - lowest) * id)), 0, 31);
        block.qs[j] = static_cast<uint8_t>((low & 0x0F) | ((high & 0x0F) << 4));
        high_bits |= static_cast<uint32_t>((low >> 4) & 1) << j;
        high_bits |= static_cast<uint32_t>((high >> 4) & 1) << (j + 16);
    }
    std::memcpy(block.qh, &high_bits, sizeof(high_bits));
}

void quantize_block(const float* in, BlockQ8_0& block) {
    float amax = 0.0f;
    for (size_t j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(in[j]));
    const float d = amax / 127.0f;
    const float id = inverse_or_zero(d);
    block.d = float_to_half(d);
    for (size_t j = 0; j < kQK8_0; ++j) {
        block.qs[j] = static_cast<int8_t>(std::clamp(std::lround(in[j] * id), -127L, 127L));
    }
}

}  // namespace llcuda
