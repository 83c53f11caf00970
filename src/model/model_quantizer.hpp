#pragma once
// Rewrites a GGUF model with its weight matrices in another storage type or a mix
// (quant_mix.hpp). A matrix whose rows are not a whole number of the type's blocks takes the
// nearest type that fits (type_fitting_rows), and the report says so; 1-D tensors such as norms
// keep their type.
#include <string>
#include <vector>

#include "core/dtype.hpp"
#include "core/gguf/gguf_file.hpp"
#include "core/gguf/gguf_writer.hpp"
#include "model/quant_mix.hpp"

namespace llcuda {

struct QuantizeReport {
    std::vector<std::string> converted;  // names, fallbacks included
    std::vector<std::string> fell_back;  // "blk.0.ffn_down.weight: rows of 172 ... -> F16"
    std::vector<std::string> kept;  // with the reason, e.g. "output_norm.weight (not a matrix)"
    uint64_t bytes_before = 0;
    uint64_t bytes_after = 0;
};

QuantizeReport quantize_model(const GgufFile& source, const QuantTarget& target,
                              GgufWriter& output);
QuantizeReport quantize_model(const GgufFile& source, DType target, GgufWriter& output);

}  // namespace llcuda
