#pragma once
// The fast CPU kernels, one entry per weight type: the type its activations are quantized to
// (Q8_K for the k-quants, Q8_0 for the 32-element formats) and the dot product of a weight row
// with a quantized activation row. Each ISA has its own list, built in its own translation unit
// with that ISA's compiler flags, and the list is chosen once at run time from the CPU's features
// (__builtin_cpu_supports), so one binary runs on any x86-64. Every SIMD kernel sums integers
// exactly and does its float steps in the scalar kernel's order, so it is bit-exact with it.
#include <cstddef>
#include <span>
#include <string_view>

#include "core/dtype.hpp"

namespace llcuda {

enum class CpuIsa { Scalar, Avx2 };

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

// The best ISA this CPU runs and this build has kernels for.
CpuIsa best_cpu_isa();
std::string_view cpu_isa_name(CpuIsa isa);
std::span<const CpuKernel> kernels_for(CpuIsa isa);

// The kernel for `weight_type` in `isa`'s list, or nullptr when the type has no quantized
// kernel yet (F32/F16/BF16 and the formats listed in README.md: they use the reference dot).
const CpuKernel* find_cpu_kernel(CpuIsa isa, DType weight_type);

}  // namespace llcuda
