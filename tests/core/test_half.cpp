#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/half.hpp"

namespace llcuda {
namespace {

TEST(Half, KnownValues) {
    EXPECT_EQ(half_to_float(0x3C00), 1.0f);
    EXPECT_EQ(half_to_float(0xC000), -2.0f);
    EXPECT_EQ(half_to_float(0x7BFF), 65504.0f);
    EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
    EXPECT_EQ(half_to_float(0x0400), std::ldexp(1.0f, -14));  // smallest normal
    EXPECT_TRUE(std::isinf(half_to_float(0x7C00)));
    EXPECT_TRUE(std::isnan(half_to_float(0x7E00)));
    EXPECT_EQ(float_to_half(1.0f), 0x3C00);
    EXPECT_EQ(float_to_half(-0.0f), 0x8000);
    EXPECT_EQ(float_to_half(65520.0f), 0x7C00);  // rounds past the largest half
    EXPECT_EQ(float_to_half(65519.0f), 0x7BFF);
    EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);  // tie to even (zero)
    EXPECT_EQ(float_to_half(std::ldexp(1.5f, -25)), 0x0001);
}

TEST(Half, TheBranchlessConversionGivesTheSameBitsForEveryHalf) {
    for (uint32_t bits = 0; bits < 0x10000; ++bits) {
        const float expected = half_to_float(static_cast<uint16_t>(bits));
        const float actual = half_to_float_branchless(static_cast<uint16_t>(bits));
        uint32_t expected_bits, actual_bits;
        std::memcpy(&expected_bits, &expected, sizeof(expected));
        std::memcpy(&actual_bits, &actual, sizeof(actual));
        ASSERT_EQ(actual_bits, expected_bits) << "half 0x" << std::hex << bits;
    }
}

TEST(Half, EveryHalfSurvivesARoundTrip) {
    for (uint32_t bits = 0; bits < 0x10000; ++bits) {
        const float value = half_to_float(static_cast<uint16_t>(bits));
        if (std::isnan(value)) continue;
        ASSERT_EQ(float_to_half(value), bits) << "half bits " << bits;
    }
}

TEST(Half, RoundsToNearestEven) {
    // 1 + 2^-11 lies exactly between 1 and the next half (1 + 2^-10): ties go to even (1).
    EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
    // 1 + 3 * 2^-11 lies between 1 + 2^-10 (odd) and 1 + 2^-9 (even): goes up.
    EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
    EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3C01);
}

TEST(BFloat16, RoundTripAndRounding) {
    EXPECT_EQ(bf16_to_float(0x3F80), 1.0f);
    EXPECT_EQ(float_to_bf16(1.0f), 0x3F80);
    EXPECT_EQ(float_to_bf16(-2.5f), 0xC020);
    // 1 + 2^-8 is halfway between bf16 neighbours 1 and 1 + 2^-7: to even.
    EXPECT_EQ(float_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
    EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::nanf("")))));
    for (uint32_t bits = 0; bits < 0x10000; ++bits) {
        const float value = bf16_to_float(static_cast<uint16_t>(bits));
        if (std::isnan(value)) continue;
        ASSERT_EQ(float_to_bf16(value), bits);
    }
}

}  // namespace
}  // namespace llcuda
