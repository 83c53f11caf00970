// The fast CPU kernels against the reference, from one table of op cases: every weight type,
// odd row counts (and odd columns for the float types), 1..N tokens, fresh random inputs (seed
// printed for replay). Every ISA this CPU runs must equal the scalar kernels bit for bit;
// every fast result must match the float reference (dequantize + float dot) within what
// quantizing the activations to 8 bits costs (float types: float rounding alone).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "backend/cpu/cpu_ops.hpp"
#include "backend/cpu/kernels/kernel_table.hpp"
#include "core/quant/quant.hpp"

namespace llcuda {
namespace {

struct OpCase {
    DType type;
    size_t rows;
    size_t columns;
    size_t tokens;
};

constexpr OpCase kOpCases[] = {
    {DType::Q4_0, 7, 64, 1},   {DType::Q4_0, 13, 96, 5}, {DType::Q4_1, 5, 32, 1},
    {DType::Q4_1, 9, 160, 3},  {DType::Q5_0, 7, 64, 1},  {DType::Q5_0, 11, 224, 4},
    {DType::Q5_1, 3, 32, 1},   {DType::Q5_1, 13, 96, 6}, {DType::Q8_0, 5, 32, 1},
    {DType::Q8_0, 11, 160, 3}, {DType::Q2_K, 3, 256, 1}, {DType::Q2_K, 9, 512, 5},
    {DType::Q3_K, 5, 256, 1},  {DType::Q3_K, 7, 768, 3}, {DType::Q4_K, 3, 256, 1},
    {DType::Q4_K, 17, 512, 4}, {DType::Q4_K, 9, 768, 9}, {DType::Q5_K, 5, 256, 1},
    {DType::Q5_K, 11, 512, 3}, {DType::Q6_K, 5, 256, 1}, {DType::Q6_K, 15, 512, 6},
    {DType::Q6_K, 1, 1024, 2}, {DType::Q8_K, 3, 256, 1}, {DType::Q8_K, 7, 512, 2},
    {DType::F32, 5, 37, 1},    {DType::F32, 9, 100, 3},  {DType::F32, 3, 31, 2},
    {DType::F16, 7, 67, 1},    {DType::F16, 5, 256, 4},  {DType::BF16, 5, 45, 1},
    {DType::BF16, 9, 128, 3},
};

// The ISAs this CPU runs besides scalar.
std::vector<CpuIsa> simd_isas() {
    std::vector<CpuIsa> isas;
    for (CpuIsa isa : {CpuIsa::Avx2, CpuIsa::Avx512Vnni})
        if (cpu_supports(isa)) isas.push_back(isa);
    return isas;
}

uint32_t replay_seed() {
    const uint32_t seed = std::random_device{}();
    std::printf("test_cpu_kernels seed %u\n", seed);
    return seed;
}

std::vector<float> random_values(std::mt19937& generator, size_t count) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> values(count);
    for (float& value : values) value = normal(generator);
    return values;
}

TEST(CpuKernels, EveryTypeHasAKernelOnEveryIsa) {
    for (DType type : {DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                       DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K,
                       DType::Q6_K, DType::Q8_K}) {
        SCOPED_TRACE(std::string(dtype_name(type)));
        const CpuKernel* scalar = find_cpu_kernel(CpuIsa::Scalar, type);
        ASSERT_NE(scalar, nullptr);
        for (CpuIsa isa : simd_isas()) {
            const CpuKernel* kernel = find_cpu_kernel(isa, type);
            ASSERT_NE(kernel, nullptr);
            EXPECT_EQ(kernel->activation_type, scalar->activation_type);
        }
    }
    // An ISA's own list holds only types the one below it has too (it falls back for the rest).
    for (const CpuKernel& kernel : avx512_vnni_kernels())
        EXPECT_NE(find_cpu_kernel(CpuIsa::Avx2, kernel.weight_type), nullptr);
    if (!avx2_kernels().empty()) {
        EXPECT_EQ(avx2_kernels().size(), scalar_kernels().size());
    }
}

TEST(CpuKernels, FastMatchesScalarBitForBitAndTheFloatReference) {
    std::mt19937 generator(replay_seed());
    ThreadPool pool(2);
    for (const OpCase& op : kOpCases) {
        SCOPED_TRACE(std::string(dtype_name(op.type)) + " rows " + std::to_string(op.rows) +
                     " columns " + std::to_string(op.columns) + " tokens " +
                     std::to_string(op.tokens));
        const auto& traits = dtype_traits(op.type);
        const size_t row_bytes = op.columns / traits.block_elements * traits.block_bytes;
        std::vector<uint8_t> weights(row_bytes * op.rows);
        const std::vector<float> source = random_values(generator, op.rows * op.columns);
        for (size_t r = 0; r < op.rows; ++r)
            quantize_row(op.type, source.data() + r * op.columns, weights.data() + r * row_bytes,
                         op.columns);
        const std::vector<float> inputs = random_values(generator, op.tokens * op.columns);
        const WeightMatrix matrix{op.type, weights.data(), op.rows, op.columns, row_bytes};

        std::vector<float> fast(op.rows * op.tokens);
        matmul_fast(matrix, inputs.data(), fast.data(), op.tokens, pool);
        const bool float_type = !is_quantized(op.type);

        const CpuKernel* scalar = find_cpu_kernel(CpuIsa::Scalar, op.type);
        ASSERT_NE(scalar, nullptr);
        const auto& activation = dtype_traits(scalar->activation_type);
        std::vector<uint8_t> quantized(op.columns / activation.block_elements *
                                       activation.block_bytes);
        std::vector<float> row_values(op.columns);
        for (size_t t = 0; t < op.tokens; ++t) {
            const float* x = inputs.data() + t * op.columns;
            quantize_row(scalar->activation_type, x, quantized.data(), op.columns);
            for (CpuIsa isa : simd_isas()) {
                const CpuKernel* kernel = find_cpu_kernel(isa, op.type);
                for (size_t r = 0; r < op.rows; ++r) {
                    EXPECT_EQ(kernel->vec_dot(weights.data() + r * row_bytes, quantized.data(),
                                              op.columns),
                              scalar->vec_dot(weights.data() + r * row_bytes, quantized.data(),
                                              op.columns))
                        << cpu_isa_name(isa) << " token " << t << " row " << r;
                }
            }
            double x_norm = 0.0;
            for (size_t c = 0; c < op.columns; ++c) x_norm += double(x[c]) * x[c];
            for (size_t r = 0; r < op.rows; ++r) {
                const float expected =
                    scalar->vec_dot(weights.data() + r * row_bytes, quantized.data(), op.columns);
                EXPECT_EQ(fast[t * op.rows + r], expected) << "token " << t << " row " << r;
                dequantize_row(op.type, weights.data() + r * row_bytes, row_values.data(),
                               op.columns);
                double reference = 0.0, w_norm = 0.0;
                for (size_t c = 0; c < op.columns; ++c) {
                    reference += double(row_values[c]) * x[c];
                    w_norm += double(row_values[c]) * row_values[c];
                }
                // 8-bit activations round each element by at most half a step of
                // max|x|/127 per block; over the row that error is bounded (Cauchy-Schwarz) by
                // |w| * |x| * (0.5/127) * sqrt(block max / rms) ~ |w| * |x| * 0.02 for normal
                // inputs; float sums add far less. The float types keep the activations, so only
                // float rounding in another summation order remains: ~1e-6 relative.
                const double tolerance =
                    (float_type ? 1e-5 : 0.02) * std::sqrt(w_norm * x_norm) + 1e-4;
                EXPECT_NEAR(expected, reference, tolerance) << "token " << t << " row " << r;
            }
        }
    }
}

// The tiled kernels (one weight row against 1..kTileActivationRows activation rows) against
// the per-row vec_dot of the same ISA and of scalar, bit for bit, on every ISA this CPU runs:
// odd row counts, one row, token counts that are not multiples of the tile height. The same
// outputs through matmul_fast (which runs the tiles for more than one token) are checked against
// the float reference by FastMatchesScalarBitForBitAndTheFloatReference.
TEST(CpuKernels, TilesEqualTheRowByRowKernelsBitForBit) {
    struct TileCase {
        DType type;
        size_t rows;
        size_t columns;
        size_t tokens;
    };
    constexpr TileCase kTileCases[] = {
        {DType::Q4_K, 1, 256, 1},  {DType::Q4_K, 7, 512, 5}, {DType::Q4_K, 3, 768, 4},
        {DType::Q4_K, 5, 256, 11}, {DType::Q6_K, 1, 256, 2}, {DType::Q6_K, 9, 512, 7},
        {DType::Q6_K, 4, 256, 3},  {DType::Q8_0, 1, 32, 1},  {DType::Q8_0, 13, 96, 6},
        {DType::Q8_0, 5, 160, 9},
    };
    std::mt19937 generator(replay_seed());
    ThreadPool pool(2);
    std::vector<CpuIsa> isas = simd_isas();
    isas.insert(isas.begin(), CpuIsa::Scalar);
    for (const TileCase& op : kTileCases) {
        SCOPED_TRACE(std::string(dtype_name(op.type)) + " rows " + std::to_string(op.rows) +
                     " columns " + std::to_string(op.columns) + " tokens " +
                     std::to_string(op.tokens));
        const auto& traits = dtype_traits(op.type);
        const size_t row_bytes = op.columns / traits.block_elements * traits.block_bytes;
        std::vector<uint8_t> weights(row_bytes * op.rows);
        const std::vector<float> source = random_values(generator, op.rows * op.columns);
        for (size_t r = 0; r < op.rows; ++r)
            quantize_row(op.type, source.data() + r * op.columns, weights.data() + r * row_bytes,
                         op.columns);
        const CpuKernel* scalar = find_cpu_kernel(CpuIsa::Scalar, op.type);
        const auto& activation = dtype_traits(scalar->activation_type);
        const size_t activation_bytes =
            op.columns / activation.block_elements * activation.block_bytes;
        const std::vector<float> inputs = random_values(generator, op.tokens * op.columns);
        std::vector<uint8_t> quantized(activation_bytes * op.tokens);
        for (size_t t = 0; t < op.tokens; ++t)
            quantize_row(scalar->activation_type, inputs.data() + t * op.columns,
                         quantized.data() + t * activation_bytes, op.columns);
        for (CpuIsa isa : isas) {
            const CpuTileKernel* tile = find_cpu_tile_kernel(isa, op.type);
            ASSERT_NE(tile, nullptr) << cpu_isa_name(isa);
            const CpuKernel* kernel = find_cpu_kernel(isa, op.type);
            std::vector<float> tiled(op.rows * op.tokens, -1.0f);
            for (size_t t = 0; t < op.tokens; t += kTileActivationRows) {
                const size_t group = std::min(kTileActivationRows, op.tokens - t);
                for (size_t r = 0; r < op.rows; ++r)
                    tile->vec_dot_rows(weights.data() + r * row_bytes,
                                       quantized.data() + t * activation_bytes, activation_bytes,
                                       group, op.columns, tiled.data() + t * op.rows + r, op.rows);
            }
            for (size_t t = 0; t < op.tokens; ++t) {
                for (size_t r = 0; r < op.rows; ++r) {
                    const uint8_t* row = weights.data() + r * row_bytes;
                    const uint8_t* x = quantized.data() + t * activation_bytes;
                    const float expected = scalar->vec_dot(row, x, op.columns);
                    EXPECT_EQ(kernel->vec_dot(row, x, op.columns), expected);
                    EXPECT_EQ(tiled[t * op.rows + r], expected)
                        << cpu_isa_name(isa) << " token " << t << " row " << r;
                }
            }
        }
    }
}

}  // namespace
}  // namespace llcuda
