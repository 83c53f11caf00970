// engine/gpu_plan: how GPU layers split over devices, and what is refused, without a GPU.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "engine/gpu_plan.hpp"

namespace llcuda {
namespace {

DeviceCapacity device(int index, size_t fit, size_t fit_head, uint64_t bytes = 1 << 30) {
    return {index, "cuda:" + std::to_string(index), "note", bytes, fit, fit_head};
}

TEST(GpuPlan, AllLayersSplitByTensorSplitWithTheHeadOnTheLastDevice) {
    GpuPlanRequest request{.layer_count = 32, .tensor_split = {3, 1}};
    const auto plan = plan_gpu_layers(request, {device(0, 32, 32), device(1, 32, 32)});
    ASSERT_EQ(plan.spans.size(), 2u);
    EXPECT_EQ(plan.gpu_layers, 32u);
    EXPECT_EQ(plan.spans[0].first_layer, 0u);
    EXPECT_EQ(plan.spans[0].end_layer, 24u);
    EXPECT_EQ(plan.spans[1].first_layer, 24u);
    EXPECT_EQ(plan.spans[1].end_layer, 32u);
}

TEST(GpuPlan, AutoFillsEachDeviceByWhatItHolds) {
    GpuPlanRequest request;
    request.layer_count = 40;
    request.layers = GpuPlanRequest::Layers::Auto;
    const auto plan = plan_gpu_layers(request, {device(0, 10, 9), device(1, 12, 11)});
    EXPECT_EQ(plan.gpu_layers, 21u);                 // 10 + 11: the last holds the head
    EXPECT_EQ(plan.spans.front().first_layer, 19u);  // the first 19 stay on the CPU
    EXPECT_EQ(plan.spans.back().end_layer, 40u);
}

TEST(GpuPlan, ADeviceThatCannotTakeItsShareIsNamed) {
    GpuPlanRequest request{.layer_count = 32, .tensor_split = {1, 1}};
    try {
        plan_gpu_layers(request, {device(0, 32, 32), device(1, 3, 3)});
        FAIL() << "expected an error";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("cuda:1: 3 of its 16 layers fit"),
                  std::string::npos)
            << error.what();
    }
}

TEST(GpuPlan, CountsAndListsAreParsedOrRefused) {
    EXPECT_EQ(parse_device_list("cuda:0,cuda:0,1"), (std::vector<int>{0, 0, 1}));
    EXPECT_THROW(parse_device_list("cuda:x"), Error);
    EXPECT_THROW(parse_device_list(""), Error);
    EXPECT_THROW(parse_tensor_split("1,-1", 2), Error);
    EXPECT_THROW(parse_tensor_split("0,0", 2), Error);
    EXPECT_THROW(parse_tensor_split("1,1,1", 2), Error);
    EXPECT_EQ(parse_memory_size("4GiB", "--gpu-memory"), uint64_t{4} << 30);
    EXPECT_EQ(parse_memory_size("6GB", "--gpu-memory"), uint64_t{6000000000});
    EXPECT_THROW(parse_memory_size("0", "--gpu-memory"), Error);
    EXPECT_THROW(parse_memory_size("lots", "--gpu-memory"), Error);
    EXPECT_THROW(parse_memory_size("4QB", "--gpu-memory"), Error);
}

}  // namespace
}  // namespace llcuda
