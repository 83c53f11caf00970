// Dequantization checked against the GGUF block layouts: hand-built blocks with values worked
// out by hand, and for the k-quants a second implementation written in the nested-loop order
// of the specification (ggml's reference), compared on random blocks.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/half.hpp"
#include "core/quant/blocks.hpp"
#include "core/quant/quant.hpp"

namespace llcuda {
namespace {

template <typename Block>
std::vector<float> dequantize(DType type, const Block& block) {
    std::vector<float> out(Block::kElements);
    dequantize_row(type, &block, out.data(), Block::kElements);
    return out;
}

TEST(QuantKnownValues, Q4_0) {
    BlockQ4_0 block{};
    block.d = float_to_half(0.5f);
    for (int j = 0; j < 16; ++j) block.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
    const auto out = dequantize(DType::Q4_0, block);
    for (int j = 0; j < 16; ++j) {
        EXPECT_EQ(out[j], (j - 8) * 0.5f);
        EXPECT_EQ(out[j + 16], (7 - j) * 0.5f);
    }
}

TEST(QuantKnownValues, Q4_1) {
    BlockQ4_1 block{};
    block.d = float_to_half(0.25f);
    block.m = float_to_half(-1.0f);
    for (int j = 0; j < 16; ++j) block.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
    const auto out = dequantize(DType::Q4_1, block);
    for (int j = 0; j < 16; ++j) {
        EXPECT_EQ(out[j], j * 0.25f - 1.0f);
        EXPECT_EQ(out[j + 16], (15 - j) * 0.25f - 1.0f);
    }
}

uint32_t q5_high_bits() {
    uint32_t bits = 0;
    for (int j = 0; j < 16; ++j) {
        if (j % 2 == 0) bits |= 1u << j;
        if (j % 3 == 0) bits |= 1u << (j + 16);
    }
    return bits;
}

TEST(QuantKnownValues, Q5_0) {
    BlockQ5_0 block{};
    block.d = float_to_half(1.0f);
    const uint32_t bits = q5_high_bits();
    std::memcpy(block.qh, &bits, 4);
    for (int j = 0; j < 16; ++j) block.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
    const auto out = dequantize(DType::Q5_0, block);
    for (int j = 0; j < 16; ++j) {
        EXPECT_EQ(out[j], static_cast<float>((j | (j % 2 == 0 ? 16 : 0)) - 16));
        EXPECT_EQ(out[j + 16], static_cast<float>(((15 - j) | (j % 3 == 0 ? 16 : 0)) - 16));
    }
}

TEST(QuantKnownValues, Q5_1) {
    BlockQ5_1 block{};
    block.d = float_to_half(0.5f);
    block.m = float_to_half(2.0f);
    const uint32_t bits = q5_high_bits();
    std::memcpy(block.qh, &bits, 4);
    for (int j = 0; j < 16; ++j) block.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
    const auto out = dequantize(DType::Q5_1, block);
    for (int j = 0; j < 16; ++j) {
        EXPECT_EQ(out[j], (j | (j % 2 == 0 ? 16 : 0)) * 0.5f + 2.0f);
        EXPECT_EQ(out[j + 16], ((15 - j) | (j % 3 == 0 ? 16 : 0)) * 0.5f + 2.0f);
    }
}

TEST(QuantKnownValues, Q8_0) {
    BlockQ8_0 block{};
    block.d = float_to_half(0.125f);
    for (int j = 0; j < 32; ++j) block.qs[j] = static_cast<int8_t>(j * 8 - 128);
    const auto out = dequantize(DType::Q8_0, block);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], (j * 8 - 128) * 0.125f);
}

TEST(QuantKnownValues, Q4_KFirstSubBlocks) {
    BlockQ4_K block{};
    block.d = float_to_half(2.0f);
    block.dmin = float_to_half(1.0f);
    block.scales[0] = 3;      // sub-block 0: scale 3
    block.scales[4] = 5;      // sub-block 0: min 5
    block.scales[1] = 1;      // sub-block 1: scale 1
    block.scales[5] = 0;      // sub-block 1: min 0
    block.scales[8] = 0x21;   // sub-block 4: scale low bits 1, min low bits 2
    block.scales[0] |= 0x40;  // sub-block 4: scale high bits 01 -> scale 17
    block.qs[0] = 0x72;       // element 0: code 2 (sub 0), element 32: code 7 (sub 1)
    block.qs[64] = 0x05;      // element 128 (sub 4): code 5
    const auto out = dequantize(DType::Q4_K, block);
    EXPECT_EQ(out[0], 2.0f * 3 * 2 - 1.0f * 5);
    EXPECT_EQ(out[1], -5.0f);
    EXPECT_EQ(out[32], 2.0f * 1 * 7);
    EXPECT_EQ(out[128], 2.0f * 17 * 5 - 1.0f * 2);
}

TEST(QuantKnownValues, Q6_KFirstElements) {
    BlockQ6_K block{};
    block.d = float_to_half(0.5f);
    for (int j = 0; j < 16; ++j) block.scales[j] = static_cast<int8_t>(j - 8);
    block.ql[0] = 0xA3;  // element 0 low nibble 3, element 64 low nibble 10
    block.qh[0] = 0x1B;  // element 0 high bits 3, element 32 high bits 2, element 64 high bits 1
    const auto out = dequantize(DType::Q6_K, block);
    EXPECT_EQ(out[0], 0.5f * -8 * ((3 | (3 << 4)) - 32));
    EXPECT_EQ(out[32], 0.5f * -6 * ((2 << 4) - 32));
    EXPECT_EQ(out[64], 0.5f * -4 * ((10 | (1 << 4)) - 32));
    EXPECT_EQ(out[96], 0.5f * -2 * (0 - 32));
}

// ---- second implementations in the specification's loop order ----

void reference_q2_k(const BlockQ2_K& b, float* y) {
    const float d = half_to_float(b.d), min = half_to_float(b.dmin);
    const uint8_t* q = b.qs;
    int is = 0;
    for (int n = 0; n < 256; n += 128) {
        int shift = 0;
        for (int j = 0; j < 4; ++j) {
            uint8_t sc = b.scales[is++];
            for (int l = 0; l < 16; ++l)
                *y++ = d * (sc & 0xF) * ((q[l] >> shift) & 3) - min * (sc >> 4);
            sc = b.scales[is++];
            for (int l = 0; l < 16; ++l)
                *y++ = d * (sc & 0xF) * ((q[l + 16] >> shift) & 3) - min * (sc >> 4);
            shift += 2;
        }
        q += 32;
    }
}

void reference_q3_k(const BlockQ3_K& b, float* y) {
    uint32_t aux[4];
    std::memcpy(aux, b.scales, 12);
    const uint32_t tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & 0x0f0f0f0f) | (((tmp >> 4) & 0x03030303) << 4);
    aux[3] = ((aux[1] >> 4) & 0x0f0f0f0f) | (((tmp >> 6) & 0x03030303) << 4);
    aux[0] = (aux[0] & 0x0f0f0f0f) | (((tmp >> 0) & 0x03030303) << 4);
    aux[1] = (aux[1] & 0x0f0f0f0f) | (((tmp >> 2) & 0x03030303) << 4);
    const auto* scales = reinterpret_cast<const int8_t*>(aux);
    const float d = half_to_float(b.d);
    const uint8_t* q = b.qs;
    uint8_t m = 1;
    int is = 0;
    for (int n = 0; n < 256; n += 128) {
        int shift = 0;
        for (int j = 0; j < 4; ++j) {
            float dl = d * (scales[is++] - 32);
            for (int l = 0; l < 16; ++l)
                *y++ = dl * (((q[l] >> shift) & 3) - ((b.hmask[l] & m) ? 0 : 4));
            dl = d * (scales[is++] - 32);
            for (int l = 0; l < 16; ++l) {
                *y++ = dl * (((q[l + 16] >> shift) & 3) - ((b.hmask[l + 16] & m) ? 0 : 4));
            }
            shift += 2;
            m <<= 1;
        }
        q += 32;
    }
}

void scale_min_k4(int j, const uint8_t* q, uint8_t& d, uint8_t& m) {
    if (j < 4) {
        d = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

void reference_q4_k(const BlockQ4_K& b, float* y) {
    const float d = half_to_float(b.d), min = half_to_float(b.dmin);
    const uint8_t* q = b.qs;
    int is = 0;
    for (int j = 0; j < 256; j += 64) {
        uint8_t sc, m;
        scale_min_k4(is + 0, b.scales, sc, m);
        const float d1 = d * sc, m1 = min * m;
        scale_min_k4(is + 1, b.scales, sc, m);
        const float d2 = d * sc, m2 = min * m;
        for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
        for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
        q += 32;
        is += 2;
    }
}

void reference_q5_k(const BlockQ5_K& b, float* y) {
    const float d = half_to_float(b.d), min = half_to_float(b.dmin);
    const uint8_t* ql = b.qs;
    int is = 0;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < 256; j += 64) {
        uint8_t sc, m;
        scale_min_k4(is + 0, b.scales, sc, m);
        const float d1 = d * sc, m1 = min * m;
        scale_min_k4(is + 1, b.scales, sc, m);
        const float d2 = d * sc, m2 = min * m;
        for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (b.qh[l] & u1 ? 16 : 0)) - m1;
        for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (b.qh[l] & u2 ? 16 : 0)) - m2;
        ql += 32;
        is += 2;
        u1 <<= 2;
        u2 <<= 2;
    }
}

void reference_q6_k(const BlockQ6_K& b, float* y) {
    const float d = half_to_float(b.d);
    const uint8_t* ql = b.ql;
    const uint8_t* qh = b.qh;
    const int8_t* sc = b.scales;
    for (int n = 0; n < 256; n += 128) {
        for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int q1 = ((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = ((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l + 0] = d * sc[is + 0] * q1;
            y[l + 32] = d * sc[is + 2] * q2;
            y[l + 64] = d * sc[is + 4] * q3;
            y[l + 96] = d * sc[is + 6] * q4;
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

template <typename Block>
Block random_block(std::mt19937& rng) {
    Block block;
    auto* bytes = reinterpret_cast<uint8_t*>(&block);
    for (size_t i = 0; i < sizeof(Block); ++i) bytes[i] = static_cast<uint8_t>(rng());
    return block;
}

uint16_t random_finite_half(std::mt19937& rng) {
    return float_to_half(std::uniform_real_distribution<float>(-2.0f, 2.0f)(rng));
}

template <typename Block, typename Reference>
void compare_with_reference(DType type, Reference reference) {
    std::mt19937 rng(1234);
    for (int trial = 0; trial < 200; ++trial) {
        auto block = random_block<Block>(rng);
        block.d = random_finite_half(rng);
        if constexpr (requires(Block b) { b.dmin; }) block.dmin = random_finite_half(rng);
        float expected[256];
        reference(block, expected);
        const auto actual = dequantize(type, block);
        for (int i = 0; i < 256; ++i)
            ASSERT_EQ(actual[i], expected[i]) << dtype_name(type) << " element " << i;
    }
}

TEST(QuantKnownValues, KQuantsMatchTheSpecificationLoops) {
    compare_with_reference<BlockQ2_K>(DType::Q2_K, reference_q2_k);
    compare_with_reference<BlockQ3_K>(DType::Q3_K, reference_q3_k);
    compare_with_reference<BlockQ4_K>(DType::Q4_K, reference_q4_k);
    compare_with_reference<BlockQ5_K>(DType::Q5_K, reference_q5_k);
    compare_with_reference<BlockQ6_K>(DType::Q6_K, reference_q6_k);
}

TEST(QuantKnownValues, Q8_K) {
    BlockQ8_K block{};
    block.d = 0.25f;
    for (int j = 0; j < 256; ++j) block.qs[j] = static_cast<int8_t>(j - 128);
    const auto out = dequantize(DType::Q8_K, block);
    for (int j = 0; j < 256; ++j) EXPECT_EQ(out[j], (j - 128) * 0.25f);
}

}  // namespace
}  // namespace llcuda
