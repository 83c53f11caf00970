#pragma once
// What a quantization asks for, tensor by tensor: one storage type for every weight matrix
// (Q8_0, Q4_K, ...), or a named mix in the manner of llama-quantize's Q3_K_M, Q4_K_M and
// Q5_K_M, which keep more bits where quality is most sensitive (attn_v and ffn_down of the first
// and last layers and every third between, and the output head). `quantize` and `synth` share
// it.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/dtype.hpp"

namespace llcuda {

class QuantTarget {
  public:
    // A type name or Q3_K_M / Q4_K_M / Q5_K_M; throws an error listing them otherwise.
    static QuantTarget parse(const std::string& name);

    const std::string& name() const { return name_; }
    bool is_mix() const { return mix_; }
    uint32_t file_type() const { return file_type_; }  // general.file_type to record
    // The type of a matrix with role "attn_v", "ffn_down", "output", ... in layer `layer` of
    // `layers` (0 of 1 for tensors outside the layers).
    DType type_for(std::string_view role, size_t layer, size_t layers) const;

  private:
    std::string name_;
    bool mix_ = false;
    DType base_ = DType::F16;
    DType more_bits_ = DType::F16;  // mixes: attn_v and ffn_down where it matters
    uint32_t file_type_ = 0;
};

// A type whose blocks divide rows of `columns` elements: `type` itself, or the nearest type with
// 32-element blocks that llama-quantize falls back to (Q2_K/Q3_K -> Q4_0, Q4_K -> Q5_0,
// Q5_K -> Q5_1, Q6_K -> Q8_0), else F16.
DType type_fitting_rows(DType type, size_t columns);

}  // namespace llcuda
