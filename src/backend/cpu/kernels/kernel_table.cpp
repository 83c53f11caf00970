#include "backend/cpu/kernels/kernel_table.hpp"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif

namespace llcuda {

#if defined(__x86_64__) || defined(_M_X64)
namespace {

// F16C is read from CPUID leaf 1 (ECX bit 29) because clang's __builtin_cpu_supports does not
// know the "f16c" feature string (CI's fuzzer build failed on it).
bool cpu_has_f16c() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
    return (ecx & (1u << 29)) != 0;
}

}  // namespace
#endif

CpuIsa best_cpu_isa() {
#if defined(__x86_64__) || defined(_M_X64)
    static const CpuIsa isa = [] {
        __builtin_cpu_init();
        if (!avx2_kernels().empty() && __builtin_cpu_supports("avx2") &&
            __builtin_cpu_supports("fma") && cpu_has_f16c())
            return CpuIsa::Avx2;
        return CpuIsa::Scalar;
    }();
    return isa;
#else
    return CpuIsa::Scalar;
#endif
}

std::string_view cpu_isa_name(CpuIsa isa) {
    switch (isa) {
        case CpuIsa::Scalar:
            return "scalar";
        case CpuIsa::Avx2:
            return "avx2";
    }
    return "unknown";
}

std::span<const CpuKernel> kernels_for(CpuIsa isa) {
    switch (isa) {
        case CpuIsa::Avx2:
            return avx2_kernels();
        default:
            return scalar_kernels();
    }
}

const CpuKernel* find_cpu_kernel(CpuIsa isa, DType weight_type) {
    for (const CpuKernel& kernel : kernels_for(isa)) {
        if (kernel.weight_type == weight_type) return &kernel;
    }
    return nullptr;
}

}  // namespace llcuda
