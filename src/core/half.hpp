#pragma once
// IEEE binary16 and bfloat16 conversions done in software so results are identical on every
// CPU (the quant formats store their scales as binary16; bit-exactness matters).
#include <bit>
#include <cstdint>
#include <cstring>

namespace llcuda {

inline float half_to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1Fu;
    uint32_t mantissa = h & 0x3FFu;
    uint32_t bits;
    if (exponent == 0) {
        if (mantissa == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            exponent = 127 - 15 + 1;
            while ((mantissa & 0x400u) == 0) {
                mantissa <<= 1;
                --exponent;
            }
            mantissa &= 0x3FFu;
            bits = sign | (exponent << 23) | (mantissa << 13);
        }
    } else if (exponent == 0x1F) {
        bits = sign | 0x7F800000u | (mantissa << 13);
    } else {
        bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    }
    float result;
    std::memcpy(&result, &bits, sizeof(result));
    return result;
}

// The same value without branches, so loops over it vectorize (the CPU attention's F16 KV cache):
// the half's exponent and mantissa shifted into a float's place and multiplied by 2^112 rebias
// the exponent, which renormalises subnormals exactly too; infinities and NaNs (exponent 31) are
// put back by a select. Equal to half_to_float for all 65536 values (tests/core/test_half.cpp).
inline float half_to_float_branchless(uint16_t h) {
    const uint32_t magnitude = static_cast<uint32_t>(h & 0x7FFFu) << 13;
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const float scaled = std::bit_cast<float>(magnitude) * 0x1p112f;
    const uint32_t finite = std::bit_cast<uint32_t>(scaled);
    const uint32_t special = magnitude | 0x7F800000u;
    return std::bit_cast<float>(sign | ((h & 0x7C00u) == 0x7C00u ? special : finite));
}

// Round to nearest, ties to even, like the hardware conversion.
inline uint16_t float_to_half(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof(bits));
    const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
    const uint32_t abs_bits = bits & 0x7FFFFFFFu;
    if (abs_bits >= 0x7F800000u) {  // inf or nan
        return sign | 0x7C00u | (abs_bits > 0x7F800000u ? 0x200u : 0u);
    }
    if (abs_bits >= 0x477FF000u) return sign | 0x7C00u;  // rounds to beyond max half
    if (abs_bits < 0x38800000u) {                        // result is subnormal or zero
        if (abs_bits < 0x33000000u) return sign;         // below half of the smallest subnormal
        const uint32_t exponent = abs_bits >> 23;
        const uint32_t mantissa = (abs_bits & 0x7FFFFFu) | 0x800000u;
        // A subnormal half counts units of 2^-24; the float's mantissa counts 2^(exponent-150).
        const uint32_t shift = 126 - exponent;
        uint32_t result = mantissa >> shift;
        const uint32_t remainder = mantissa & ((1u << shift) - 1u);
        const uint32_t halfway = 1u << (shift - 1);
        if (remainder > halfway || (remainder == halfway && (result & 1u))) ++result;
        return static_cast<uint16_t>(sign | result);
    }
    uint32_t result = ((abs_bits >> 13) - ((127 - 15) << 10)) & 0xFFFFu;
    const uint32_t rem = abs_bits & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (result & 1u))) ++result;
    return static_cast<uint16_t>(sign | result);
}

inline float bf16_to_float(uint16_t value) {
    const uint32_t bits = static_cast<uint32_t>(value) << 16;
    float result;
    std::memcpy(&result, &bits, sizeof(result));
    return result;
}

inline uint16_t float_to_bf16(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof(bits));
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
    const uint32_t rounding = 0x7FFFu + ((bits >> 16) & 1u);
    return static_cast<uint16_t>((bits + rounding) >> 16);
}

}  // namespace llcuda
