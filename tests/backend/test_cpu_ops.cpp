#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "backend/cpu/cpu_ops.hpp"
#include "core/quant/quant.hpp"

namespace llcuda {
namespace {

TEST(CpuOps, RmsNorm) {
    const std::vector<float> x{1, 2, 3, 4};
    const std::vector<float> weight{1, 1, 2, 0.5f};
    std::vector<float> out(4);
    rms_norm(x.data(), weight.data(), out.data(), 4, 0.0f);
    const float rms = std::sqrt((1 + 4 + 9 + 16) / 4.0f);
    EXPECT_NEAR(out[0], 1 / rms, 1e-6);
    EXPECT_NEAR(out[2], 2 * 3 / rms, 1e-6);
    EXPECT_NEAR(out[3], 0.5f * 4 / rms, 1e-6);
}

TEST(CpuOps, SoftmaxIsStableAndNormalised) {
    std::vector<float> values{1000.0f, 1001.0f, 999.0f};
    softmax_in_place(values.data(), values.size());
    EXPECT_NEAR(values[0] + values[1] + values[2], 1.0f, 1e-6);
    EXPECT_GT(values[1], values[0]);
    EXPECT_NEAR(values[1] / values[0], std::exp(1.0f), 1e-4);
}

TEST(CpuOps, SwiGlu) {
    std::vector<float> gate{0.0f, 1.0f, -2.0f};
    const std::vector<float> up{5.0f, 2.0f, 3.0f};
    swiglu_in_place(gate.data(), up.data(), 3);
    EXPECT_EQ(gate[0], 0.0f);
    EXPECT_NEAR(gate[1], 1.0f / (1.0f + std::exp(-1.0f)) * 2.0f, 1e-6);
    EXPECT_NEAR(gate[2], -2.0f / (1.0f + std::exp(2.0f)) * 3.0f, 1e-6);
}

// Rotation of one pair by angle position * base^(-2i/d), computed independently.
void expect_rotated(float a, float b, float out_a, float out_b, float angle) {
    EXPECT_NEAR(out_a, a * std::cos(angle) - b * std::sin(angle), 1e-5);
    EXPECT_NEAR(out_b, a * std::sin(angle) + b * std::cos(angle), 1e-5);
}

TEST(CpuOps, RopeNormalRotatesAdjacentPairs) {
    std::vector<float> head{1, 2, 3, 4, 5, 6, 7, 8};
    const auto original = head;
    RopeParams params;
    params.rotated_dims = 8;
    apply_rope(head.data(), 1, 8, 3, params);
    for (int pair = 0; pair < 4; ++pair) {
        const float angle = 3.0f * std::pow(10000.0f, -2.0f * pair / 8.0f);
        expect_rotated(original[2 * pair], original[2 * pair + 1], head[2 * pair],
                       head[2 * pair + 1], angle);
    }
}

TEST(CpuOps, RopeNeoXRotatesHalves) {
    std::vector<float> heads{1, 2, 3, 4,  5,  6,
                             7, 8, 9, 10, 11, 12};  // two heads of 6, 4 dims rotate
    const auto original = heads;
    RopeParams params;
    params.style = RopeStyle::NeoX;
    params.rotated_dims = 4;
    params.freq_base = 500.0f;
    apply_rope(heads.data(), 2, 6, 7, params);
    for (int head = 0; head < 2; ++head) {
        const int o = head * 6;
        for (int pair = 0; pair < 2; ++pair) {
            const float angle = 7.0f * std::pow(500.0f, -2.0f * pair / 4.0f);
            expect_rotated(original[o + pair], original[o + pair + 2], heads[o + pair],
                           heads[o + pair + 2], angle);
        }
        EXPECT_EQ(heads[o + 4], original[o + 4]);  // beyond rotated_dims: untouched
        EXPECT_EQ(heads[o + 5], original[o + 5]);
    }
}

TEST(CpuOps, RopeFrequencyFactorsAndLinearScaling) {
    std::vector<float> head{1, 0, 1, 0};
    const std::vector<float> factors{2.0f, 8.0f};
    RopeParams params;
    params.rotated_dims = 4;
    params.freq_factors = factors.data();
    params.position_scale = 0.5f;
    apply_rope(head.data(), 1, 4, 10, params);
    expect_rotated(1, 0, head[0], head[1], 10 * 0.5f / 2.0f);
    expect_rotated(1, 0, head[2], head[3], 10 * 0.5f * std::pow(10000.0f, -0.5f) / 8.0f);
}

// Bit for bit: continuous batching relies on a token's result not depending on its batch.
TEST(CpuOps, BatchedMatmulMatchesOneTokenAtATime) {
    std::mt19937 rng(5);
    std::normal_distribution<float> normal;
    const size_t rows = 37, columns = 512, tokens = 5;
    for (const DType type : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_1,
                             DType::Q4_K, DType::Q6_K}) {
        std::vector<float> dense(rows * columns);
        for (auto& value : dense) value = normal(rng);
        std::vector<uint8_t> packed(rows * row_bytes(type, columns));
        for (size_t r = 0; r < rows; ++r) {
            quantize_row(type, dense.data() + r * columns,
                         packed.data() + r * row_bytes(type, columns), columns);
        }
        WeightMatrix weights{type, packed.data(), rows, columns, row_bytes(type, columns)};
        std::vector<float> inputs(tokens * columns);
        for (auto& value : inputs) value = normal(rng);
        ThreadPool pool(3);
        std::vector<float> batched(tokens * rows), single(rows);
        matmul(weights, inputs.data(), batched.data(), tokens, pool);
        for (size_t t = 0; t < tokens; ++t) {
            matmul(weights, inputs.data() + t * columns, single.data(), 1, pool);
            for (size_t r = 0; r < rows; ++r)
                ASSERT_EQ(batched[t * rows + r], single[r]) << dtype_name(type);
        }
    }
}

}  // namespace
}  // namespace llcuda
