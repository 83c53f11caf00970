#pragma once
// Rewrites a GGUF model with its weight matrices in another storage type. Tensors whose rows
// are not a whole number of the target's blocks (and 1-D tensors such as norms) keep their
// type; the report says which.
#include <string>
#include <vector>

#include "core/dtype.hpp"
#include "core/gguf/gguf_file.hpp"
#include "core/gguf/gguf_writer.hpp"

namespace llcuda {

struct QuantizeReport {
    std::vector<std::string> converted;
    std::vector<std::string> kept;  // with the reason, e.g. "blk.0.ffn_down.weight (rows of 172)"
    uint64_t bytes_before = 0;
    uint64_t bytes_after = 0;
};

QuantizeReport quantize_model(const GgufFile& source, DType target, GgufWriter& output);

}  // namespace llcuda
