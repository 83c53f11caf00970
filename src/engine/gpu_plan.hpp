#pragma once
// How the GPU layers of a model are split over the devices of --devices: a pure function of
// what each device can hold, so that every split and every refusal is testable without a GPU.
// The last layers go to the GPUs, in the order of the device list; the last device holds the
// output head.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/gpu_span.hpp"

namespace llcuda {

// What one device of the list can take for this model.
struct DeviceCapacity {
    int device = 0;
    std::string label;        // "cuda:1 (NVIDIA H200)", for messages
    std::string memory_note;  // "4.00 GiB usable of 139.81 GiB free, 0.41 GiB per layer ..."
    uint64_t usable_bytes = 0;
    size_t layers_that_fit = 0;       // as a segment without the output head
    size_t layers_that_fit_head = 0;  // as the last segment, holding the output head
};

struct GpuPlanRequest {
    size_t layer_count = 0;
    enum class Layers { All, Auto, Count } layers = Layers::All;
    size_t count = 0;                  // Layers::Count (at most layer_count is used)
    std::vector<double> tensor_split;  // proportions per device; empty: by memory
};

struct GpuPlan {
    std::vector<GpuSpan> spans;  // segments in layer order, none empty
    size_t gpu_layers = 0;
};

// Throws llcuda::Error naming the device that cannot take its share and what would fit.
GpuPlan plan_gpu_layers(const GpuPlanRequest& request, const std::vector<DeviceCapacity>& devices);

// "cuda:0,cuda:1" (also "0,1"); the same device may appear more than once.
std::vector<int> parse_device_list(const std::string& text);
// "3,1": non-negative proportions, at least one positive, `device_count` of them.
std::vector<double> parse_tensor_split(const std::string& text, size_t device_count);
// "4GiB", "8G" (binary), "512MiB", "6GB" (decimal), "1073741824" (bytes); more than 0.
uint64_t parse_memory_size(const std::string& text, const std::string& knob);

}  // namespace llcuda
