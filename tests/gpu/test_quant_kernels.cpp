// Every quantized format on the GPU against the CPU reference (core/quant), on fresh random
// matrices with odd row counts: dequantization (whole matrices and embedding rows picked by
// token id), the dp4a matrix-vector product for 1..8 tokens (rows that are not 16-byte aligned,
// rows split over warps), and the tensor-core GEMM path.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <utility>

#include "backend/cuda/cuda_ops.hpp"
#include "backend/cuda/gpu_matmul.hpp"
#include "core/quant/quant.hpp"
#include "gpu_test_support.hpp"

namespace llcuda {
namespace {

using testing::random_floats;
using testing::to_device;
using testing::to_host;

const DType kTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                        DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K,
                        DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_K};

struct QuantizedMatrix {
    std::vector<uint8_t> bytes;
    std::vector<float> values;  // the CPU's dequantization of `bytes`
    size_t rows, columns, row_bytes;
};

QuantizedMatrix make_matrix(DType type, size_t rows, size_t columns, uint64_t salt) {
    QuantizedMatrix m{{}, {}, rows, columns, row_bytes(type, columns)};
    const auto source = random_floats(rows * columns, 1.0f, salt);
    m.bytes.resize(rows * m.row_bytes);
    m.values.resize(rows * columns);
    for (size_t r = 0; r < rows; ++r) {
        quantize_row(type, source.data() + r * columns, m.bytes.data() + r * m.row_bytes, columns);
        dequantize_row(type, m.bytes.data() + r * m.row_bytes, m.values.data() + r * columns,
                       columns);
    }
    return m;
}

cuda::DeviceMatrix device_matrix(DType type, const QuantizedMatrix& m, const DeviceBuffer& data) {
    return {type, data.as<uint8_t>(), m.rows, m.columns, m.row_bytes};
}

// The activations as the matvec kernel sees them: int8 with one scale per 32 values.
std::vector<float> int8_round_trip(const std::vector<float>& x) {
    std::vector<float> out(x.size());
    for (size_t b = 0; b < x.size(); b += 32) {
        float amax = 0.0f;
        for (size_t i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b + i]));
        const float d = amax / 127.0f;
        for (size_t i = 0; i < 32; ++i)
            out[b + i] = d > 0.0f ? std::nearbyint(x[b + i] / d) * d : 0.0f;
    }
    return out;
}

class QuantKernels : public ::testing::TestWithParam<DType> {};

TEST_P(QuantKernels, DequantizeEqualsTheCpu) {
    const DType type = GetParam();
    const auto m = make_matrix(type, 37, 768, 1);
    const auto data = to_device(m.bytes);
    DeviceBuffer out(m.values.size() * sizeof(float), 0);
    cuda::dequantize_rows(device_matrix(type, m, data), nullptr, m.rows, out.get(), false, nullptr);
    const auto gpu = to_host<float>(out, m.values.size());
    for (size_t i = 0; i < gpu.size(); ++i)
        ASSERT_NEAR(gpu[i], m.values[i], 1e-6f * (1.0f + std::fabs(m.values[i])))
            << "element " << i;

    // Embedding lookup: rows picked by token id, repeats and the last row included.
    const std::vector<int32_t> ids = {36, 0, 5, 5, 17};
    const auto ids_device = to_device(ids);
    DeviceBuffer rows_out(ids.size() * m.columns * sizeof(float), 0);
    cuda::dequantize_rows(device_matrix(type, m, data), ids_device.as<int32_t>(), ids.size(),
                          rows_out.get(), false, nullptr);
    const auto picked = to_host<float>(rows_out, ids.size() * m.columns);
    for (size_t i = 0; i < ids.size(); ++i)
        for (size_t c = 0; c < m.columns; ++c)
            ASSERT_NEAR(picked[i * m.columns + c], m.values[ids[i] * m.columns + c],
                        1e-6f * (1.0f + std::fabs(m.values[ids[i] * m.columns + c])));
}

TEST_P(QuantKernels, MatvecEqualsTheCpuForOneToEightTokens) {
    const DType type = GetParam();
    // Rows of five k-quant super-blocks (forty 32-value blocks: a chunk of 32 and a part),
    // of seventeen, and enough short rows for one warp per row.
    const std::pair<size_t, size_t> shapes[] = {
        {1, 1280}, {7, 1280}, {133, 1280}, {133, 4352}, {4099, 256}};
    for (const auto& [rows, columns] : shapes) {
        const auto m = make_matrix(type, rows, columns, rows + columns);
        const auto data = to_device(m.bytes);
        for (const size_t tokens : {size_t{1}, size_t{3}, size_t{8}}) {
            const auto x = random_floats(tokens * columns, 1.0f, 100 + tokens);
            const auto x_device = to_device(x);
            DeviceBuffer blocks(cuda::activation_blocks_bytes(tokens, columns), 0);
            DeviceBuffer out(tokens * rows * sizeof(float), 0);
            if (is_quantized(type))
                cuda::quantize_activations(x_device.as<float>(), tokens, columns, blocks.get(),
                                           nullptr);
            cuda::matvec(device_matrix(type, m, data), x_device.as<float>(), blocks.get(), tokens,
                         out.as<float>(), nullptr);
            const auto gpu = to_host<float>(out, tokens * rows);
            const auto seen = is_quantized(type) ? int8_round_trip(x) : x;
            for (size_t t = 0; t < tokens; ++t) {
                for (size_t r = 0; r < rows; ++r) {
                    double expected = 0, magnitude = 0;
                    for (size_t c = 0; c < columns; ++c) {
                        expected += double(m.values[r * columns + c]) * seen[t * columns + c];
                        magnitude +=
                            std::fabs(double(m.values[r * columns + c]) * seen[t * columns + c]);
                    }
                    ASSERT_NEAR(gpu[t * rows + r], expected, 1e-5 * magnitude + 1e-6)
                        << "rows " << rows << " tokens " << tokens << " at " << t << "," << r;
                }
            }
        }
    }
}

TEST_P(QuantKernels, TensorCoreGemmEqualsTheCpu) {
    const DType type = GetParam();
    const size_t rows = 75, columns = 512, tokens = 19;
    const auto m = make_matrix(type, rows, columns, 7);
    const auto data = to_device(m.bytes);
    const auto x = random_floats(tokens * columns, 1.0f, 8);
    const auto x_device = to_device(x);
    const auto matrix = device_matrix(type, m, data);
    cuda::GpuMatmul matmul(0, nullptr, tokens, columns, &matrix, 1);
    DeviceBuffer out(tokens * rows * sizeof(float), 0);
    matmul.set_input(x_device.as<float>(), tokens, columns);
    matmul.multiply(matrix, out.as<float>());
    const auto gpu = to_host<float>(out, tokens * rows);
    // F16 operands (weights and activations rounded to half) unless the weights are F32/BF16.
    const double tolerance = (type == DType::F32 || type == DType::BF16) ? 1e-5 : 2e-3;
    for (size_t t = 0; t < tokens; ++t) {
        for (size_t r = 0; r < rows; ++r) {
            double expected = 0, magnitude = 0;
            for (size_t c = 0; c < columns; ++c) {
                expected += double(m.values[r * columns + c]) * x[t * columns + c];
                magnitude += std::fabs(double(m.values[r * columns + c]) * x[t * columns + c]);
            }
            ASSERT_NEAR(gpu[t * rows + r], expected, tolerance * magnitude) << t << "," << r;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantKernels, ::testing::ValuesIn(kTypes),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

}  // namespace
}  // namespace llcuda
