#pragma once
// A VecDotRows from a SIMD tile whose run<N>() takes N activation rows: activation_rows
// (1..kTileActivationRows) picks the tile height at run time. Shared by the AVX2 and AVX-512
// files; internal linkage, as in vec_dot_finish.hpp, so each ISA's file keeps its own copy.
#include <cstddef>

namespace llcuda::kernels {
namespace {

template <typename Tile>
void vec_dot_rows(const void* weights, const void* activations, size_t activation_row_bytes,
                  size_t activation_rows, size_t count, float* out, size_t out_stride) {
    switch (activation_rows) {
        case 1:
            return Tile::template run<1>(weights, activations, activation_row_bytes, count, out,
                                         out_stride);
        case 2:
            return Tile::template run<2>(weights, activations, activation_row_bytes, count, out,
                                         out_stride);
        case 3:
            return Tile::template run<3>(weights, activations, activation_row_bytes, count, out,
                                         out_stride);
        default:
            return Tile::template run<4>(weights, activations, activation_row_bytes, count, out,
                                         out_stride);
    }
}

}  // namespace
}  // namespace llcuda::kernels
