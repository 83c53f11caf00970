#include "backend/cuda/architecture_coverage.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <sstream>

namespace llcuda {

std::vector<std::string> compiled_cuda_architectures() {
    std::vector<std::string> architectures;
#ifdef LLCUDA_CUDA_ARCHITECTURES
    std::stringstream list(LLCUDA_CUDA_ARCHITECTURES);
    for (std::string entry; std::getline(list, entry, ',');) {
        if (!entry.empty()) architectures.push_back(entry);
    }
#endif
    return architectures;
}

ArchitectureCoverage architecture_coverage(int major, int minor,
                                           const std::vector<std::string>& architectures) {
    const int capability = major * 10 + minor;
    bool native = false;
    bool ptx = false;
    for (const auto& entry : architectures) {
        const int number = std::atoi(entry.c_str());
        const bool real_only = entry.find("-real") != std::string::npos;
        const bool virtual_only = entry.find("-virtual") != std::string::npos;
        // Machine code runs on GPUs of the same major version with an equal or higher minor.
        if (!virtual_only && number / 10 == major && number <= capability) native = true;
        // PTX is compiled by the driver for any equal or newer GPU.
        if (!real_only && number <= capability) ptx = true;
    }
    if (native) return {Coverage::Native, fmt::format("sm_{} code is in this build", capability)};
    if (ptx) {
        return {Coverage::PtxJit,
                fmt::format("no sm_{} code, only PTX the driver compiles at start; rebuild with "
                            "-DCMAKE_CUDA_ARCHITECTURES={} for a fast start",
                            capability, capability)};
    }
    std::string built;
    for (const auto& entry : architectures) built += (built.empty() ? "" : ",") + entry;
    return {Coverage::Missing,
            fmt::format("this build has code for [{}], none of which runs on compute capability "
                        "{}.{}; rebuild with "
                        "-DCMAKE_CUDA_ARCHITECTURES={}",
                        built.empty() ? "no CUDA architectures" : built, major, minor, capability)};
}

}  // namespace llcuda
