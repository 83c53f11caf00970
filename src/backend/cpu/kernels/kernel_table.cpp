#include "backend/cpu/kernels/kernel_table.hpp"

#include <cstdlib>
#include <string>

#include "core/error.hpp"

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

bool cpu_supports(CpuIsa isa) {
#if defined(__x86_64__) || defined(_M_X64)
    __builtin_cpu_init();
    const bool avx2 = !avx2_kernels().empty() && __builtin_cpu_supports("avx2") &&
                      __builtin_cpu_supports("fma") && cpu_has_f16c();
    switch (isa) {
        case CpuIsa::Scalar:
            return true;
        case CpuIsa::Avx2:
            return avx2;
        case CpuIsa::Avx512Vnni:
            return avx2 && !avx512_vnni_kernels().empty() && __builtin_cpu_supports("avx512f") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                   __builtin_cpu_supports("avx512vnni");
    }
    return false;
#else
    return isa == CpuIsa::Scalar;
#endif
}

CpuIsa best_cpu_isa() {
    static const CpuIsa isa = [] {
        for (CpuIsa candidate : {CpuIsa::Avx512Vnni, CpuIsa::Avx2})
            if (cpu_supports(candidate)) return candidate;
        return CpuIsa::Scalar;
    }();
    return isa;
}

namespace {

CpuIsa isa_from_environment() {
    const char* value = std::getenv("LLCUDA_CPU_ISA");
    if (value == nullptr || *value == '\0') return best_cpu_isa();
    const std::string name(value);
    for (CpuIsa isa : {CpuIsa::Scalar, CpuIsa::Avx2, CpuIsa::Avx512Vnni}) {
        if (name != cpu_isa_name(isa)) continue;
        if (!cpu_supports(isa))
            throw Error("LLCUDA_CPU_ISA=" + name + ": this CPU (or this build) has no " + name +
                        " kernels; the best it runs is " +
                        std::string(cpu_isa_name(best_cpu_isa())));
        return isa;
    }
    throw Error("LLCUDA_CPU_ISA must be scalar, avx2 or avx512vnni, not '" + name + "'");
}

}  // namespace

CpuIsa selected_cpu_isa() {
    static const CpuIsa isa = isa_from_environment();
    return isa;
}

std::string_view cpu_isa_name(CpuIsa isa) {
    switch (isa) {
        case CpuIsa::Scalar:
            return "scalar";
        case CpuIsa::Avx2:
            return "avx2";
        case CpuIsa::Avx512Vnni:
            return "avx512vnni";
    }
    return "unknown";
}

namespace {

template <typename Kernel>
const Kernel* find_in(std::span<const Kernel> kernels, DType weight_type) {
    for (const Kernel& kernel : kernels) {
        if (kernel.weight_type == weight_type) return &kernel;
    }
    return nullptr;
}

}  // namespace

const CpuKernel* find_cpu_kernel(CpuIsa isa, DType weight_type) {
    const CpuKernel* kernel = nullptr;
    if (isa == CpuIsa::Avx512Vnni) kernel = find_in(avx512_vnni_kernels(), weight_type);
    if (kernel == nullptr && isa != CpuIsa::Scalar) kernel = find_in(avx2_kernels(), weight_type);
    if (kernel == nullptr) kernel = find_in(scalar_kernels(), weight_type);
    return kernel;
}

const CpuTileKernel* find_cpu_tile_kernel(CpuIsa isa, DType weight_type) {
    const CpuTileKernel* kernel = nullptr;
    if (isa == CpuIsa::Avx512Vnni) kernel = find_in(avx512_vnni_tile_kernels(), weight_type);
    if (kernel == nullptr && isa != CpuIsa::Scalar)
        kernel = find_in(avx2_tile_kernels(), weight_type);
    if (kernel == nullptr) kernel = find_in(scalar_tile_kernels(), weight_type);
    return kernel;
}

}  // namespace llcuda
