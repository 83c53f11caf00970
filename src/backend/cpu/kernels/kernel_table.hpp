#pragma once
// The fast CPU kernels, one entry per weight type: the type its activations are quantized to
// (Q8_K for the k-quants, Q8_0 for the 32-element formats, F32 for the float formats) and the
// dot product of a weight row with an activation row. Each ISA has its own list, built in its
// own translation unit with that ISA's compiler flags, and the ISA is chosen once at run time
// from the CPU's features (__builtin_cpu_supports, CPUID), so one binary runs on any x86-64. A
// higher ISA lists only the types it speeds up; the others run the next ISA down's kernel.
// Every SIMD kernel sums integers exactly and does its float steps in the scalar kernel's
// order, so it is bit-exact with it.
#include <cstddef>
#include <span>
#include <string_view>

#include "core/dtype.hpp"

namespace llcuda {

enum class CpuIsa { Scalar, Avx2, Avx512Vnni };

// Sum over `count` elements of weight row times activation row (quantized to activation_type).
using VecDot = float (*)(const void* weights, const void* activations, size_t count);

struct CpuKernel {
    DType weight_type;
    DType activation_type;
    VecDot vec_dot;
};

// The tiled form of a vec_dot for prompts: one weight row against up to kTileActivationRows
// activation rows at once (row j at activations + j * activation_row_bytes), the weight
// block's codes unpacked once and reused for every activation row, so a prompt's product does
// not unpack each weight block once per token. out[j * out_stride] gets exactly what vec_dot
// gives for row j: the same integer sums and the same float steps in the same order.
constexpr size_t kTileActivationRows = 4;
using VecDotRows = void (*)(const void* weights, const void* activations,
                            size_t activation_row_bytes, size_t activation_rows, size_t count,
                            float* out, size_t out_stride);

struct CpuTileKernel {
    DType weight_type;
    VecDotRows vec_dot_rows;
};

// The fast kernels compiled for an ISA (empty when this build has none for it).
std::span<const CpuKernel> scalar_kernels();
std::span<const CpuKernel> avx2_kernels();
std::span<const CpuKernel> avx512_vnni_kernels();
// The tiled kernels of an ISA: the types whose weights carry most of a Llama Q4_K_M file
// (Q4_K, Q6_K, Q8_0); the other types run vec_dot row by row.
std::span<const CpuTileKernel> scalar_tile_kernels();
std::span<const CpuTileKernel> avx2_tile_kernels();
std::span<const CpuTileKernel> avx512_vnni_tile_kernels();

// Whether this CPU runs `isa` and this build has kernels for it.
bool cpu_supports(CpuIsa isa);
// The best ISA this CPU runs and this build has kernels for.
CpuIsa best_cpu_isa();
// The ISA the fast kernels run: LLCUDA_CPU_ISA (scalar, avx2 or avx512vnni) when set, to pin
// one for testing and measuring, else best_cpu_isa(). An unknown name or an ISA this CPU lacks
// throws an Error naming LLCUDA_CPU_ISA.
CpuIsa selected_cpu_isa();
std::string_view cpu_isa_name(CpuIsa isa);

// The kernel `isa` runs for `weight_type`: its own, else the next ISA down's; nullptr for a
// type without a fast kernel.
const CpuKernel* find_cpu_kernel(CpuIsa isa, DType weight_type);
// The tiled kernel `isa` runs for `weight_type`, found the same way; nullptr when none.
const CpuTileKernel* find_cpu_tile_kernel(CpuIsa isa, DType weight_type);

}  // namespace llcuda
