// Quantize then dequantize random rows: the error stays within each format's precision, the
// fused dot product equals dequantize-then-dot, and bad sizes are refused.
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <random>
#include <vector>

#include "core/dtype.hpp"
#include "core/error.hpp"
#include "core/file_type.hpp"
#include "core/quant/quant.hpp"

namespace llcuda {
namespace {

struct Precision {
    DType type;
    double max_relative_rms_error;  // rms(dequantized - original) / rms(original), normal data
};

// Bounds sit a little above what these quantizers reach on Gaussian data; a layout or
// rounding bug pushes the error far past them.
constexpr Precision kPrecisions[] = {
    {DType::F32, 0.0},   {DType::F16, 0.001}, {DType::BF16, 0.005}, {DType::Q8_0, 0.01},
    {DType::Q5_0, 0.05}, {DType::Q5_1, 0.05}, {DType::Q4_0, 0.10},  {DType::Q4_1, 0.10},
    {DType::Q8_K, 0.01}, {DType::Q6_K, 0.03}, {DType::Q5_K, 0.05},  {DType::Q4_K, 0.10},
    {DType::Q3_K, 0.25}, {DType::Q2_K, 0.45},
};

std::vector<float> random_row(size_t count, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> row(count);
    for (auto& value : row) value = normal(rng);
    return row;
}

void PrintTo(const Precision& precision, std::ostream* out) { *out << dtype_name(precision.type); }

class QuantRoundTrip : public ::testing::TestWithParam<Precision> {};

TEST_P(QuantRoundTrip, ErrorWithinPrecision) {
    const auto [type, bound] = GetParam();
    const size_t count = 256 * 8;
    const auto original = random_row(count, 42 + static_cast<uint32_t>(type));
    std::vector<uint8_t> packed(row_bytes(type, count));
    quantize_row(type, original.data(), packed.data(), count);
    std::vector<float> restored(count);
    dequantize_row(type, packed.data(), restored.data(), count);
    double error = 0, energy = 0;
    for (size_t i = 0; i < count; ++i) {
        error += (restored[i] - original[i]) * (restored[i] - original[i]);
        energy += original[i] * original[i];
    }
    const double relative = std::sqrt(error / energy);
    EXPECT_LE(relative, bound) << dtype_name(type);
    if (bound > 0) {
        EXPECT_GT(relative, 0.0) << dtype_name(type) << " lost nothing: is it quantizing at all?";
    }
}

TEST_P(QuantRoundTrip, FusedDotMatchesDequantizedDot) {
    const auto type = GetParam().type;
    const size_t count = 256 * 3;
    const auto weights = random_row(count, 7);
    const auto vector = random_row(count, 8);
    std::vector<uint8_t> packed(row_bytes(type, count));
    quantize_row(type, weights.data(), packed.data(), count);
    std::vector<float> restored(count);
    dequantize_row(type, packed.data(), restored.data(), count);
    double expected = 0;
    for (size_t i = 0; i < count; ++i) expected += static_cast<double>(restored[i]) * vector[i];
    EXPECT_NEAR(dot_row(type, packed.data(), vector.data(), count), expected,
                1e-3 * std::sqrt(count));
}

TEST_P(QuantRoundTrip, ZerosAndConstantsStayExact) {
    const auto type = GetParam().type;
    const size_t count = 256;
    std::vector<float> zeros(count, 0.0f);
    std::vector<uint8_t> packed(row_bytes(type, count));
    quantize_row(type, zeros.data(), packed.data(), count);
    std::vector<float> restored(count, 1.0f);
    dequantize_row(type, packed.data(), restored.data(), count);
    for (const float value : restored) ASSERT_EQ(value, 0.0f) << dtype_name(type);
}

TEST_P(QuantRoundTrip, RejectsPartialBlocks) {
    const auto type = GetParam().type;
    const size_t block = dtype_traits(type).block_elements;
    if (block == 1) GTEST_SKIP() << "plain float type";
    std::vector<float> values(block + 1);
    std::vector<uint8_t> packed(row_bytes(type, block) * 2);
    EXPECT_THROW(quantize_row(type, values.data(), packed.data(), block + 1), Error);
    EXPECT_THROW(dequantize_row(type, packed.data(), values.data(), block + 1), Error);
    EXPECT_THROW(row_bytes(type, block + 1), Error);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantRoundTrip, ::testing::ValuesIn(kPrecisions),
                         [](const auto& info) { return std::string(dtype_name(info.param.type)); });

TEST(DType, TraitsMatchTheSpecification) {
    EXPECT_EQ(row_bytes(DType::Q4_K, 4096), 4096 / 256 * 144u);
    EXPECT_EQ(row_bytes(DType::Q8_0, 64), 68u);
    EXPECT_EQ(row_bytes(DType::F16, 3), 6u);
    EXPECT_EQ(find_dtype(30)->type, DType::BF16);
    EXPECT_FALSE(find_dtype(16).has_value());
    EXPECT_EQ(ggml_type_name(16), "IQ2_XXS");
    EXPECT_EQ(dtype_from_name("q4_k"), DType::Q4_K);
    EXPECT_FALSE(dtype_from_name("Q4_K_S").has_value());
}

TEST(FileType, LabelsAndQuantizeTargetsShareOneTable) {
    EXPECT_EQ(file_type_label(15), "Q4_K_M");
    EXPECT_EQ(file_type_label(14), "Q4_K_S");
    EXPECT_EQ(file_type_label(99), "type 99");
    EXPECT_EQ(file_type_written_for(DType::Q8_0), 7u);
    EXPECT_EQ(file_type_written_for(DType::Q4_K), 15u);
    EXPECT_FALSE(file_type_written_for(DType::Q8_K).has_value());
    for (const DType type :
         {DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q5_1, DType::Q6_K}) {
        EXPECT_EQ(file_type_label(*file_type_written_for(type)), dtype_name(type));
    }
}

}  // namespace
}  // namespace llcuda
