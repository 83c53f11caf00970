#include "core/quant/quant.hpp"

#include <string>

#include "core/error.hpp"
#include "core/half.hpp"
#include "core/quant/k_quants.hpp"
#include "core/quant/legacy_quants.hpp"

namespace llcuda {
namespace {

template <typename Block>
void dequantize_blocks(const void* source, float* destination, size_t count) {
    const auto* blocks = static_cast<const Block*>(source);
    constexpr size_t kElements = Block::kElements;
    for (size_t b = 0; b < count / kElements; ++b)
        dequantize_block(blocks[b], destination + b * kElements);
}

template <typename Block>
void quantize_blocks(const float* source, void* destination, size_t count) {
    auto* blocks = static_cast<Block*>(destination);
    constexpr size_t kElements = Block::kElements;
    for (size_t b = 0; b < count / kElements; ++b)
        quantize_block(source + b * kElements, blocks[b]);
}

// Dequantizes one block at a time into registers-sized scratch and accumulates; the weight
// row is read once and never written out as floats.
template <typename Block>
float dot_blocks(const void* row, const float* vector, size_t count) {
    const auto* blocks = static_cast<const Block*>(row);
    constexpr size_t kElements = Block::kElements;
    float scratch[kElements];
    float sum = 0.0f;
    for (size_t b = 0; b < count / kElements; ++b) {
        dequantize_block(blocks[b], scratch);
        const float* x = vector + b * kElements;
        float block_sum = 0.0f;
        for (size_t i = 0; i < kElements; ++i) block_sum += scratch[i] * x[i];
        sum += block_sum;
    }
    return sum;
}

void check_count(DType type, size_t count) {
    const auto& traits = dtype_traits(type);
    if (count % traits.block_elements != 0) {
        throw Error(std::to_string(count) + " elements is not a multiple of the " +
                    std::string(traits.name) + " block size " +
                    std::to_string(traits.block_elements));
    }
}

// Calls `action.template operator()<Block>()` with the block struct of a quantized type.
template <typename Action>
void with_block_type(DType type, Action&& action) {
    switch (type) {
        case DType::Q4_0:
            return action.template operator()<BlockQ4_0>();
        case DType::Q4_1:
            return action.template operator()<BlockQ4_1>();
        case DType::Q5_0:
            return action.template operator()<BlockQ5_0>();
        case DType::Q5_1:
            return action.template operator()<BlockQ5_1>();
        case DType::Q8_0:
            return action.template operator()<BlockQ8_0>();
        case DType::Q2_K:
            return action.template operator()<BlockQ2_K>();
        case DType::Q3_K:
            return action.template operator()<BlockQ3_K>();
        case DType::Q4_K:
            return action.template operator()<BlockQ4_K>();
        case DType::Q5_K:
            return action.template operator()<BlockQ5_K>();
        case DType::Q6_K:
            return action.template operator()<BlockQ6_K>();
        case DType::Q8_K:
            return action.template operator()<BlockQ8_K>();
        default:
            throw Error("internal error: " + std::string(dtype_name(type)) +
                        " is not a block type");
    }
}

}  // namespace

void dequantize_row(DType type, const void* source, float* destination, size_t count) {
    check_count(type, count);
    switch (type) {
        case DType::F32: {
            const auto* values = static_cast<const float*>(source);
            for (size_t i = 0; i < count; ++i) destination[i] = values[i];
            return;
        }
        case DType::F16: {
            const auto* values = static_cast<const uint16_t*>(source);
            for (size_t i = 0; i < count; ++i) destination[i] = half_to_float(values[i]);
            return;
        }
        case DType::BF16: {
            const auto* values = static_cast<const uint16_t*>(source);
            for (size_t i = 0; i < count; ++i) destination[i] = bf16_to_float(values[i]);
            return;
        }
        default:
            with_block_type(type, [&]<typename Block>() {
                dequantize_blocks<Block>(source, destination, count);
            });
    }
}

void quantize_row(DType type, const float* source, void* destination, size_t count) {
    check_count(type, count);
    switch (type) {
        case DType::F32: {
            auto* values = static_cast<float*>(destination);
            for (size_t i = 0; i < count; ++i) values[i] = source[i];
            return;
        }
        case DType::F16: {
            auto* values = static_cast<uint16_t*>(destination);
            for (size_t i = 0; i < count; ++i) values[i] = float_to_half(source[i]);
            return;
        }
        case DType::BF16: {
            auto* values = static_cast<uint16_t*>(destination);
            for (size_t i = 0; i < count; ++i) values[i] = float_to_bf16(source[i]);
            return;
        }
        default:
            with_block_type(type, [&]<typename Block>() {
                quantize_blocks<Block>(source, destination, count);
            });
    }
}

float dot_row(DType type, const void* row, const float* vector, size_t count) {
    check_count(type, count);
    switch (type) {
        case DType::F32: {
            const auto* values = static_cast<const float*>(row);
            float sum = 0.0f;
            for (size_t i = 0; i < count; ++i) sum += values[i] * vector[i];
            return sum;
        }
        case DType::F16: {
            const auto* values = static_cast<const uint16_t*>(row);
            float sum = 0.0f;
            for (size_t i = 0; i < count; ++i) sum += half_to_float(values[i]) * vector[i];
            return sum;
        }
        case DType::BF16: {
            const auto* values = static_cast<const uint16_t*>(row);
            float sum = 0.0f;
            for (size_t i = 0; i < count; ++i) sum += bf16_to_float(values[i]) * vector[i];
            return sum;
        }
        default: {
            float result = 0.0f;
            with_block_type(
                type, [&]<typename Block>() { result = dot_blocks<Block>(row, vector, count); });
            return result;
        }
    }
}

}  // namespace llcuda
