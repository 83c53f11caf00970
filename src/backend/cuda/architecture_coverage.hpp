#pragma once
// Whether a build's CUDA architectures (CMAKE_CUDA_ARCHITECTURES entries such as "90",
// "86-real", "80-virtual") can run on a GPU of a given compute capability.
#include <string>
#include <vector>

namespace llcuda {

enum class Coverage {
    Native,   // machine code for this GPU's family is in the binary
    PtxJit,   // only PTX: the driver compiles it at first start (slower start, still works)
    Missing,  // nothing runs: rebuild with this GPU's architecture
};

struct ArchitectureCoverage {
    Coverage coverage;
    std::string description;
};

std::vector<std::string> compiled_cuda_architectures();  // of this build; empty without CUDA
ArchitectureCoverage architecture_coverage(int major, int minor,
                                           const std::vector<std::string>& architectures);

}  // namespace llcuda
