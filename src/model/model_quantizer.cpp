#include "model/model_quantizer.hpp"

#include <fmt/format.h>

#include <cstdio>

#include "core/error.hpp"
#include "core/quant/quant.hpp"

namespace llcuda {
namespace {

struct TensorRole {
    std::string role;  // "attn_v" of "blk.3.attn_v.weight"; "output" of "output.weight"
    size_t layer = 0;
};

TensorRole role_of(const std::string& name) {
    size_t layer = 0;
    int consumed = 0;
    if (std::sscanf(name.c_str(), "blk.%zu.%n", &layer, &consumed) == 1 && consumed > 0) {
        const std::string rest = name.substr(static_cast<size_t>(consumed));
        return {rest.substr(0, rest.find('.')), layer};
    }
    return {name.substr(0, name.find('.')), 0};
}

size_t layer_count(const GgufFile& source) {
    size_t layers = 1;
    for (const auto& tensor : source.tensors()) {
        const auto role = role_of(tensor.name);
        if (tensor.name.rfind("blk.", 0) == 0) layers = std::max(layers, role.layer + 1);
    }
    return layers;
}

std::vector<uint8_t> convert(const GgufFile& source, const GgufTensorInfo& tensor, DType type) {
    const uint8_t* data = source.tensor_data(tensor);
    const size_t columns = tensor.shape[0];
    const size_t rows = tensor.element_count / columns;
    const size_t source_row_bytes = row_bytes(tensor.type, columns);
    const size_t target_row_bytes = row_bytes(type, columns);
    std::vector<uint8_t> converted(rows * target_row_bytes);
    std::vector<float> row(columns);
    for (size_t r = 0; r < rows; ++r) {
        dequantize_row(tensor.type, data + r * source_row_bytes, row.data(), columns);
        quantize_row(type, row.data(), converted.data() + r * target_row_bytes, columns);
    }
    return converted;
}

}  // namespace

QuantizeReport quantize_model(const GgufFile& source, const QuantTarget& target,
                              GgufWriter& output) {
    for (const auto& [key, value] : source.metadata()) output.set(key, value);
    output.set("general.file_type", GgufValue::u32(target.file_type()));
    output.set("general.quantization_version", GgufValue::u32(2));

    QuantizeReport report;
    const size_t layers = layer_count(source);
    for (const auto& tensor : source.tensors()) {
        const uint8_t* data = source.tensor_data(tensor);
        report.bytes_before += tensor.byte_count;
        const auto role = role_of(tensor.name);
        const DType wanted = target.type_for(role.role, role.layer, layers);
        const DType type =
            tensor.shape.size() == 2 ? type_fitting_rows(wanted, tensor.shape[0]) : tensor.type;
        if (tensor.shape.size() != 2 || type == tensor.type) {
            report.kept.push_back(
                tensor.shape.size() != 2
                    ? tensor.name + " (not a matrix)"
                    : fmt::format("{} (already {})", tensor.name, dtype_name(type)));
            output.add_tensor(tensor.name, tensor.type, tensor.shape,
                              std::vector<uint8_t>(data, data + tensor.byte_count));
            report.bytes_after += tensor.byte_count;
            continue;
        }
        if (type != wanted) {
            report.fell_back.push_back(fmt::format(
                "{}: rows of {} are not whole {} blocks of {}, so {}", tensor.name, tensor.shape[0],
                dtype_name(wanted), dtype_traits(wanted).block_elements, dtype_name(type)));
        }
        auto converted = convert(source, tensor, type);
        report.bytes_after += converted.size();
        report.converted.push_back(tensor.name);
        output.add_tensor(tensor.name, type, tensor.shape, std::move(converted));
    }
    return report;
}

QuantizeReport quantize_model(const GgufFile& source, DType target, GgufWriter& output) {
    return quantize_model(source, QuantTarget::parse(std::string(dtype_name(target))), output);
}

}  // namespace llcuda
