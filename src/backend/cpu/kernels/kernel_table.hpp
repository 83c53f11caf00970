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

// The fast kernels compiled for an ISA (empty when this build has none for it).
std::span<const CpuKernel> scalar_kernels();
std::span<const CpuKernel> avx2_kernels();
std::span<const CpuKernel> avx512_vnni_kernels();

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

}  // namespace llcuda
