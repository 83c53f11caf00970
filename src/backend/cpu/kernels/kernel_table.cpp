#include "backend/cpu/kernels/kernel_table.hpp"

namespace llcuda {

CpuIsa best_cpu_isa() {
#if defined(__x86_64__) || defined(_M_X64)
    static const CpuIsa isa = [] {
        __builtin_cpu_init();
        if (!avx2_kernels().empty() && __builtin_cpu_supports("avx2") &&
            __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
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
