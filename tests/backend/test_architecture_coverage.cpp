#include <gtest/gtest.h>

#include "backend/cuda/architecture_coverage.hpp"

namespace llcuda {
namespace {

TEST(ArchitectureCoverage, MachineCodeRunsWithinAMajorVersion) {
    const std::vector<std::string> built{"80", "86", "89", "90"};
    EXPECT_EQ(architecture_coverage(9, 0, built).coverage, Coverage::Native);
    EXPECT_EQ(architecture_coverage(8, 7, built).coverage,
              Coverage::Native);  // sm_86 code runs on 8.7
    EXPECT_EQ(architecture_coverage(8, 0, {"86"}).coverage, Coverage::Missing);  // not backwards
}

TEST(ArchitectureCoverage, PtxCoversNewerGpus) {
    EXPECT_EQ(architecture_coverage(10, 0, {"80", "90"}).coverage, Coverage::PtxJit);
    EXPECT_EQ(architecture_coverage(10, 0, {"90-real"}).coverage, Coverage::Missing);
    EXPECT_EQ(architecture_coverage(9, 0, {"90-virtual"}).coverage, Coverage::PtxJit);
}

TEST(ArchitectureCoverage, MissingSaysHowToRebuild) {
    const auto result = architecture_coverage(7, 5, {"80", "90"});
    EXPECT_EQ(result.coverage, Coverage::Missing);
    EXPECT_NE(result.description.find("-DCMAKE_CUDA_ARCHITECTURES=75"), std::string::npos)
        << result.description;
    EXPECT_EQ(architecture_coverage(9, 0, {}).coverage, Coverage::Missing);
}

}  // namespace
}  // namespace llcuda
