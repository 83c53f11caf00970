// The per-device gauges of /metrics: one series per GPU, segments on one device added up, label
// values escaped.
#include <gtest/gtest.h>

#include "server/metrics.hpp"

namespace llcuda {
namespace {

TEST(ServerMetrics, PerDeviceGaugesAddUpTheSegmentsOfEachGpu) {
    EXPECT_EQ(per_device_gauges({}), "");
    const std::vector<GpuSegmentSummary> segments = {
        {"cuda:0", 2, 10, 1000}, {"cuda:1", 10, 20, 500}, {"cuda:0", 20, 32, 700}};
    const std::string text = per_device_gauges(segments);
    EXPECT_NE(text.find("# TYPE llcuda_gpu_device_layers gauge\n"), std::string::npos);
    EXPECT_NE(text.find("llcuda_gpu_device_layers{device=\"cuda:0\"} 20\n"), std::string::npos);
    EXPECT_NE(text.find("llcuda_gpu_device_layers{device=\"cuda:1\"} 10\n"), std::string::npos);
    EXPECT_NE(text.find("llcuda_gpu_device_memory_held_bytes{device=\"cuda:0\"} 1700\n"),
              std::string::npos);
    EXPECT_NE(text.find("llcuda_gpu_device_memory_held_bytes{device=\"cuda:1\"} 500\n"),
              std::string::npos);
    EXPECT_NE(per_device_gauges({{"a\"b", 0, 1, 1}}).find("device=\"a\\\"b\""), std::string::npos);
}

}  // namespace
}  // namespace llcuda
