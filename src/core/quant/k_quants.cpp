#include "core/quant/k_quants.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.hpp"
#include "core/quant/quant_helpers.hpp"

namespace llcuda {
namespace {

int round_to_int(float value) { return static_cast<int>(std::lround(value)); }

// Fits x ~= scale * q - min with q in [0, max_code] over one sub-block; min >= 0 by
// construction (the sub-block's lowest value clipped at zero), as the asymmetric k-quants need.
void fit_scale_min(const float* in, size_t count, int max_code, float& scale, float& min) {
    float lowest = in[0];
    float highest = in[0];
    for (size_t i = 1; i < count; ++i) {
        lowest = std::min(lowest, in[i]);
        highest = std::max(highest, in[i]);
    }
    lowest = std::min(lowest, 0.0f);
    scale = (highest - lowest) / static_cast<float>(max_code);
    min = -lowest;
}

// Codes q in [0, max_code] for x ~= d * q - m, given the already-quantized d and m.
int asymmetric_code(float x, float d, float m, int max_code) {
    if (d == 0.0f) return 0;
    return std::clamp(round_to_int((x + m) / d), 0, max_code);
}

float max_of(const float* values, size_t count) {
    float best = 0.0f;
    for (size_t i = 0; i < count; ++i) best = std::max(best, values[i]);
    return best;
}

void pack_scale_min_k4(const uint8_t* scales, const uint8_t* mins, uint8_t* packed) {
    for (int j = 0; j < 4; ++j) {
        packed[j] = static_cast<uint8_t>((scales[j] & 63) | ((scales[j + 4] >> 4) << 6));
        packed[j + 4] = static_cast<uint8_t>((mins[j] & 63) | ((mins[j + 4] >> 4) << 6));
        packed[j + 8] = static_cast<uint8_t>((scales[j + 4] & 0x0F) | ((mins[j + 4] & 0x0F) << 4));
    }
}

// Shared by Q4_K and Q5_K: eight sub-blocks of 32 with 6-bit scales and mins.
void quantize_scales_k4(const float* in, int max_code, uint16_t& d_bits, uint16_t& dmin_bits,
                        uint8_t* packed, float* sub_d, float* sub_m) {
    float scales[8], mins[8];
    for (int j = 0; j < 8; ++j) fit_scale_min(in + 32 * j, 32, max_code, scales[j], mins[j]);
    const float d = max_of(scales, 8) / 63.0f;
    const float dmin = max_of(mins, 8) / 63.0f;
    d_bits = float_to_half(d);
    dmin_bits = float_to_half(dmin);
    const float d_stored = half_to_float(d_bits);
    const float dmin_stored = half_to_float(dmin_bits);
    uint8_t scale_codes[8], min_codes[8];
    for (int j = 0; j < 8; ++j) {
        scale_codes[j] = static_cast<uint8_t>(
            d_stored > 0 ? std::clamp(round_to_int(scales[j] / d_stored), 0, 63) : 0);
        min_codes[j] = static_cast<uint8_t>(
            dmin_stored > 0 ? std::clamp(round_to_int(mins[j] / dmin_stored), 0, 63) : 0);
        sub_d[j] = d_stored * scale_codes[j];
        sub_m[j] = dmin_stored * min_codes[j];
    }
    pack_scale_min_k4(scale_codes, min_codes, packed);
}

}  // namespace

void unpack_scale_min_k4(const uint8_t* packed, int index, uint8_t& scale, uint8_t& min) {
    if (index < 4) {
        scale = packed[index] & 63;
        min = packed[index + 4] & 63;
    } else {
        scale = static_cast<uint8_t>((packed[index + 4] & 0x0F) | ((packed[index - 4] >> 6) << 4));
        min = static_cast<uint8_t>((packed[index + 4] >> 4) | ((packed[index] >> 6) << 4));
    }
}

// Q2_K: sixteen sub-blocks of 16, 2-bit codes; scale and min are 4-bit multiples of d, dmin.
// Element e lives in qs[(e / 128) * 32 + e % 32] at bit 2 * ((e % 128) / 32).
void dequantize_block(const BlockQ2_K& block, float* out) {
    const float d = half_to_float(block.d);
    const float dmin = half_to_float(block.dmin);
    for (size_t e = 0; e < kQK_K; ++e) {
        const uint8_t packed = block.scales[e / 16];
        const int shift = static_cast<int>(2 * ((e % 128) / 32));
        const int code = (block.qs[(e / 128) * 32 + e % 32] >> shift) & 3;
        out[e] = d * static_cast<float>(packed & 0x0F) * static_cast<float>(code) -
                 dmin * static_cast<float>(packed >> 4);
    }
}

void quantize_block(const float* in, BlockQ2_K& block) {
    float scales[16], mins[16];
    for (int j = 0; j < 16; ++j) fit_scale_min(in + 16 * j, 16, 3, scales[j], mins[j]);
    block.d = float_to_half(max_of(scales, 16) / 15.0f);
    block.dmin = float_to_half(max_of(mins, 16) / 15.0f);
    const float d = half_to_float(block.d);
    const float dmin = half_to_float(block.dmin);
    std::memset(block.qs, 0, sizeof(block.qs));
    for (int j = 0; j < 16; ++j) {
        const int scale_code = d > 0 ? std::clamp(round_to_int(scales[j] / d), 0, 15) : 0;
        const int min_code = dmin > 0 ? std::clamp(round_to_int(mins[j] / dmin), 0, 15) : 0;
        block.scales[j] = static_cast<uint8_t>(scale_code | (min_code << 4));
        for (int l = 0; l < 16; ++l) {
            const size_t e = static_cast<size_t>(16 * j + l);
            const int code = asymmetric_code(in[e], d * scale_code, dmin * min_code, 3);
            block.qs[(e / 128) * 32 + e % 32] |=
                static_cast<uint8_t>(code << (2 * ((e % 128) / 32)));
        }
    }
}

// Q3_K: sixteen sub-blocks of 16, signed 6-bit scales (stored + 32), 3-bit codes (stored + 4):
// two low bits as in Q2_K, the third in hmask[e % 32] at bit e / 32.
namespace {
int q3_k_scale(const uint8_t* packed, size_t index) {
    const int low = index < 8 ? (packed[index] & 0x0F) : (packed[index - 8] >> 4);
    const int high = (packed[8 + index % 4] >> (2 * (index / 4))) & 3;
    return (low | (high << 4)) - 32;
}
}  // namespace

void dequantize_block(const BlockQ3_K& block, float* out) {
    const float d = half_to_float(block.d);
    for (size_t e = 0; e < kQK_K; ++e) {
        const int shift = static_cast<int>(2 * ((e % 128) / 32));
        const int low = (block.qs[(e / 128) * 32 + e % 32] >> shift) & 3;
        const bool high = (block.hmask[e % 32] >> (e / 32)) & 1;
        const int code = low - (high ? 0 : 4);
        out[e] =
            d * static_cast<float>(q3_k_scale(block.scales, e / 16)) * static_cast<float>(code);
    }
}

void quantize_block(const float* in, BlockQ3_K& block) {
    float scales[16];
    for (int j = 0; j < 16; ++j) scales[j] = signed_absolute_max(in + 16 * j, 16) / -4.0f;
    const float max_scale = signed_absolute_max(scales, 16);
    const float d = max_scale != 0.0f ? max_scale / -32.0f : 0.0f;
    block.d = float_to_half(d);
    const float d_stored = half_to_float(block.d);
    std::memset(block.scales, 0, sizeof(block.scales));
    std::memset(block.qs, 0, sizeof(block.qs));
    std::memset(block.hmask, 0, sizeof(block.hmask));
    for (size_t j = 0; j < 16; ++j) {
        const int scale =
            d_stored != 0 ? std::clamp(round_to_int(scales[j] / d_stored), -32, 31) : 0;
        const int stored = scale + 32;
        if (j < 8) {
            block.scales[j] |= static_cast<uint8_t>(stored & 0x0F);
        } else {
            block.scales[j - 8] |= static_cast<uint8_t>((stored & 0x0F) << 4);
        }
        block.scales[8 + j % 4] |= static_cast<uint8_t>((stored >> 4) << (2 * (j / 4)));
        const float step = d_stored * static_cast<float>(scale);
        for (size_t l = 0; l < 16; ++l) {
            const size_t e = 16 * j + l;
            const int code = step != 0.0f ? std::clamp(round_to_int(in[e] / step), -4, 3) : 0;
            const int biased = code + 4;
            block.qs[(e / 128) * 32 + e % 32] |=
                static_cast<uint8_t>((biased & 3) << (2 * ((e % 128) / 32)));
            if (biased & 4) block.hmask[e % 32] |= static_cast<uint8_t>(1u << (e / 32));
        }
    }
}

// Q4_K: eight sub-blocks of 32; each 64 elements share 32 bytes of qs, the first 32 in the
// low nibbles, the next 32 in the high nibbles.
void dequantize_block(const BlockQ4_K& block, float* out) {
    const float d = half_to_float(block.d);
    const float dmin = half_to_float(block.dmin);
    for (int sub = 0; sub < 8; ++sub) {
        uint8_t scale, min;
        unpack_scale_min_k4(block.scales, sub, scale, min);
        const float step = d * scale;
        const float offset = dmin * min;
        const uint8_t* qs = block.qs + (sub / 2) * 32;
        const int shift = (sub % 2) * 4;
        for (int l = 0; l < 32; ++l) out[sub * 32 + l] = step * ((qs[l] >> shift) & 0x0F) - offset;
    }
}

void quantize_block(const float* in, BlockQ4_K& block) {
    float sub_d[8], sub_m[8];
    quantize_scales_k4(in, 15, block.d, block.dmin, block.scales, sub_d, sub_m);
    std::memset(block.qs, 0, sizeof(block.qs));
    for (int sub = 0; sub < 8; ++sub) {
        for (int l = 0; l < 32; ++l) {
            const int code = asymmetric_code(in[sub * 32 + l], sub_d[sub], sub_m[sub], 15);
            block.qs[(sub / 2) * 32 + l] |= static_cast<uint8_t>(code << ((sub % 2) * 4));
        }
    }
}

// Q5_K: Q4_K plus a fifth bit per element in qh[l] at bit `sub`.
void dequantize_block(const BlockQ5_K& block, float* out) {
    const float d = half_to_float(block.d);
    const float dmin = half_to_float(block.dmin);
    for (int sub = 0; sub < 8; ++sub) {
        uint8_t scale, min;
        unpack_scale_min_k4(block.scales, sub, scale, min);
        const float step = d * scale;
        const float offset = dmin * min;
        const uint8_t* qs = block.qs + (sub / 2) * 32;
        const int shift = (sub % 2) * 4;
        for (int l = 0; l < 32; ++l) {
            const int code = ((qs[l] >> shift) & 0x0F) | (((block.qh[l] >> sub) & 1) << 4);
            out[sub * 32 + l] = step * code - offset;
        }
    }
}

void quantize_block(const float* in, BlockQ5_K& block) {
    float sub_d[8], sub_m[8];
    quantize_scales_k4(in, 31, block.d, block.dmin, block.scales, sub_d, sub_m);
    std::memset(block.qs, 0, sizeof(block.qs));
    std::memset(block.qh, 0, sizeof(block.qh));
    for (int sub = 0; sub < 8; ++sub) {
        for (int l = 0; l < 32; ++l) {
            const int code = asymmetric_code(in[sub * 32 + l], sub_d[sub], sub_m[sub], 31);
            block.qs[(sub / 2) * 32 + l] |= static_cast<uint8_t>((code & 0x0F) << ((sub % 2) * 4));
            block.qh[l] |= static_cast<uint8_t>(((code >> 4) & 1) << sub);
        }
    }
}

// Q6_K: sixteen sub-blocks of 16 with int8 scales; 6-bit codes (stored + 32). Within each
// half of 128: element e (0..127) takes its low nibble from ql[e % 64] (high nibble when
// e >= 64) and its two high bits from qh[e % 32] at bit 2 * (e / 32).
void dequantize_block(const BlockQ6_K& block, float* out) {
    const float d = half_to_float(block.d);
    for (size_t half = 0; half < 2; ++half) {
        const uint8_t* ql = block.ql + half * 64;
        const uint8_t* qh = block.qh + half * 32;
        for (size_t e = 0; e < 128; ++e) {
            const int low = (ql[e % 64] >> (e >= 64 ? 4 : 0)) & 0x0F;
            const int high = (qh[e % 32] >> (2 * (e / 32))) & 3;
            const size_t index = half * 128 + e;
            out[index] = d * static_cast<float>(block.scales[index / 16]) *
                         static_cast<float>((low | (high << 4)) - 32);
        }
    }
}

void quantize_block(const float* in, BlockQ6_K& block) {
    float scales[16];
    for (int j = 0; j < 16; ++j) scales[j] = signed_absolute_max(in + 16 * j, 16) / -32.0f;
    const float max_scale = signed_absolute_max(scales, 16);
    const float d = max_scale != 0.0f ? max_scale / -128.0f : 0.0f;
    block.d = float_to_half(d);
    const float d_stored = half_to_float(block.d);
    std::memset(block.ql, 0, sizeof(block.ql));
    std::memset(block.qh, 0, sizeof(block.qh));
    for (size_t j = 0; j < 16; ++j) {
        const int scale =
            d_stored != 0 ? std::clamp(round_to_int(scales[j] / d_stored), -128, 127) : 0;
        block.scales[j] = static_cast<int8_t>(scale);
        const float step = d_stored * static_cast<float>(scale);
        for (size_t l = 0; l < 16; ++l) {
            const size_t index = 16 * j + l;
            const int code = step != 0.0f ? std::clamp(round_to_int(in[index] / step), -32, 31) : 0;
            const int biased = code + 32;
            const size_t half = index / 128;
            const size_t e = index % 128;
            block.ql[half * 64 + e % 64] |=
                static_cast<uint8_t>((biased & 0x0F) << (e >= 64 ? 4 : 0));
            block.qh[half * 32 + e % 32] |= static_cast<uint8_t>((biased >> 4) << (2 * (e / 32)));
        }
    }
}

void dequantize_block(const BlockQ8_K& block, float* out) {
    for (size_t e = 0; e < kQK_K; ++e) out[e] = block.d * static_cast<float>(block.qs[e]);
}

void quantize_block(const float* in, BlockQ8_K& block) {
    const float max = signed_absolute_max(in, kQK_K);
    if (max == 0.0f) {
        std::memset(&block, 0, sizeof(block));
        return;
    }
    const float inverse_scale = -128.0f / max;
    for (size_t e = 0; e < kQK_K; ++e) {
        block.qs[e] = static_cast<int8_t>(std::min(127, round_to_int(inverse_scale * in[e])));
    }
    for (size_t j = 0; j < kQK_K / 16; ++j) {
        int sum = 0;
        for (size_t l = 0; l < 16; ++l) sum += block.qs[16 * j + l];
        block.bsums[j] = static_cast<int16_t>(sum);
    }
    block.d = 1.0f / inverse_scale;
}

}  // namespace llcuda
