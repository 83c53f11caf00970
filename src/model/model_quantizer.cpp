#include "model/model_quantizer.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/file_type.hpp"
#include "core/quant/quant.hpp"

namespace llcuda {

QuantizeReport quantize_model(const GgufFile& source, DType target, GgufWriter& output) {
    const auto file_type = file_type_written_for(target);
    if (!file_type)
        throw Error(fmt::format("{} is not a file type to quantize to", dtype_name(target)));
    for (const auto& [key, value] : source.metadata()) output.set(key, value);
    output.set("general.file_type", GgufValue::u32(*file_type));
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
