#include "model/model_quantizer.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/quant/quant.hpp"

namespace llcuda {
namespace {

// llama_ftype values for general.file_type, so other tools label the file correctly.
uint32_t file_type_of(DType type) {
    switch (type) {
        case DType::F32:
            return 0;
        case DType::F16:
            return 1;
        case DType::Q4_0:
            return 2;
        case DType::Q4_1:
            return 3;
        case DType::Q8_0:
            return 7;
        case DType::Q5_0:
            return 8;
        case DType::Q5_1:
            return 9;
        case DType::Q2_K:
            return 10;
        case DType::Q3_K:
            return 12;  // Q3_K_M
        case DType::Q4_K:
            return 15;  // Q4_K_M
        case DType::Q5_K:
            return 17;  // Q5_K_M
        case DType::Q6_K:
            return 18;
        case DType::BF16:
            return 32;
        default:
            throw Error(fmt::format("{} is not a file type to quantize to", dtype_name(type)));
    }
}

}  // namespace

QuantizeReport quantize_model(const GgufFile& source, DType target, GgufWriter& output) {
    const uint32_t file_type = file_type_of(target);
    for (const auto& [key, value] : source.metadata()) output.set(key, value);
    output.set("general.file_type", GgufValue::u32(file_type));
    output.set("general.quantization_version", GgufValue::u32(2));

    QuantizeReport report;
    const auto& traits = dtype_traits(target);
    std::vector<float> row;
    for (const auto& tensor : source.tensors()) {
        const uint8_t* data = source.tensor_data(tensor);
        report.bytes_before += tensor.byte_count;
        const bool matrix = tensor.shape.size() == 2;
        const bool fits = tensor.shape[0] % traits.block_elements == 0;
        if (!matrix || !fits || tensor.type == target) {
            report.kept.push_back(
                !matrix ? tensor.name + " (not a matrix)"
                : !fits ? fmt::format("{} (rows of {})", tensor.name, tensor.shape[0])
                        : tensor.name + " (already " + std::string(traits.name) + ")");
            output.add_tensor(tensor.name, tensor.type, tensor.shape,
                              std::vector<uint8_t>(data, data + tensor.byte_count));
            report.bytes_after += tensor.byte_count;
            continue;
        }
        const size_t columns = tensor.shape[0];
        const size_t rows = tensor.element_count / columns;
        const size_t source_row_bytes = row_bytes(tensor.type, columns);
        const size_t target_row_bytes = row_bytes(target, columns);
        std::vector<uint8_t> converted(rows * target_row_bytes);
        row.resize(columns);
        for (size_t r = 0; r < rows; ++r) {
            dequantize_row(tensor.type, data + r * source_row_bytes, row.data(), columns);
            quantize_row(target, row.data(), converted.data() + r * target_row_bytes, columns);
        }
        report.bytes_after += converted.size();
        output.add_tensor(tensor.name, target, tensor.shape, std::move(converted));
        report.converted.push_back(tensor.name);
    }
    return report;
}

}  // namespace llcuda
