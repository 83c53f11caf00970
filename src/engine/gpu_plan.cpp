#include "engine/gpu_plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

#include "core/error.hpp"

namespace llcuda {
namespace {

// Layer counts per device for `layers` layers in these proportions: boundaries at the rounded
// cumulative shares, so the counts add up exactly and follow the proportions within one layer.
std::vector<size_t> split_by(size_t layers, const std::vector<double>& proportions) {
    const double total = std::accumulate(proportions.begin(), proportions.end(), 0.0);
    std::vector<size_t> counts(proportions.size(), 0);
    double cumulative = 0.0;
    size_t previous_boundary = 0;
    for (size_t i = 0; i < proportions.size(); ++i) {
        cumulative += proportions[i];
        const size_t boundary = i + 1 == proportions.size()
                                    ? layers
                                    : static_cast<size_t>(std::llround(static_cast<double>(layers) *
                                                                       cumulative / total));
        counts[i] = boundary - previous_boundary;
        previous_boundary = boundary;
    }
    return counts;
}

// The last device with layers holds the output head.
size_t head_device(const std::vector<size_t>& counts) {
    for (size_t i = counts.size(); i-- > 0;)
        if (counts[i] > 0) return i;
    return 0;
}

size_t capacity(const DeviceCapacity& device, bool holds_head) {
    return holds_head ? device.layers_that_fit_head : device.layers_that_fit;
}

// The first device whose share does not fit, or nullopt.
std::optional<size_t> first_overfull(const std::vector<size_t>& counts,
                                     const std::vector<DeviceCapacity>& devices) {
    const size_t head = head_device(counts);
    for (size_t i = 0; i < counts.size(); ++i)
        if (counts[i] > capacity(devices[i], i == head)) return i;
    return std::nullopt;
}

GpuPlan spans_from(const std::vector<size_t>& counts, const std::vector<DeviceCapacity>& devices,
                   size_t layer_count) {
    GpuPlan plan;
    plan.gpu_layers = std::accumulate(counts.begin(), counts.end(), size_t{0});
    size_t first = layer_count - plan.gpu_layers;
    for (size_t i = 0; i < counts.size(); ++i) {
        if (counts[i] == 0) continue;
        plan.spans.push_back({devices[i].device, first, first + counts[i]});
        first += counts[i];
    }
    return plan;
}

// The items of "a,b,c" (an empty text is one empty item, which the callers refuse).
std::vector<std::string> comma_separated(const std::string& text) {
    std::vector<std::string> items;
    size_t begin = 0;
    while (begin <= text.size()) {
        const size_t end = std::min(text.find(',', begin), text.size());
        items.push_back(text.substr(begin, end - begin));
        begin = end + 1;
    }
    return items;
}

std::string all_notes(const std::vector<DeviceCapacity>& devices) {
    std::string text;
    for (const auto& device : devices)
        text += fmt::format("{}{}: {}", text.empty() ? "" : "; ", device.label, device.memory_note);
    return text;
}

}  // namespace

GpuPlan plan_gpu_layers(const GpuPlanRequest& request, const std::vector<DeviceCapacity>& devices) {
    if (devices.empty()) throw Error("no GPU to place layers on");
    if (!request.tensor_split.empty() && request.tensor_split.size() != devices.size()) {
        throw Error(fmt::format("--tensor-split has {} proportions for {} devices",
                                request.tensor_split.size(), devices.size()));
    }
    const size_t total = request.layer_count;
    if (request.layers == GpuPlanRequest::Layers::Auto) {
        std::vector<double> proportions = request.tensor_split;
        size_t most = 0;
        for (size_t i = 0; i < devices.size(); ++i) {
            const size_t fit = capacity(devices[i], i + 1 == devices.size());
            most += fit;
            if (request.tensor_split.empty()) proportions.push_back(static_cast<double>(fit));
        }
        // Fill each device by what it holds: the largest count whose split fits everywhere.
        for (size_t layers = std::min(total, most); layers > 0; --layers) {
            const auto counts = split_by(layers, proportions);
            if (!first_overfull(counts, devices)) return spans_from(counts, devices, total);
        }
        throw Error(fmt::format(
            "--gpu-layers auto: not even one layer fits ({}); free GPU memory, lower --ctx-size, "
            "use --kv-type q8_0, or use --device cpu",
            all_notes(devices)));
    }
    const size_t layers =
        request.layers == GpuPlanRequest::Layers::Count ? std::min(request.count, total) : total;
    std::vector<double> proportions = request.tensor_split;
    if (proportions.empty())
        for (const auto& device : devices)
            proportions.push_back(static_cast<double>(device.usable_bytes));
    const auto counts = split_by(layers, proportions);
    if (const auto overfull = first_overfull(counts, devices)) {
        const auto& device = devices[*overfull];
        const size_t fit = capacity(device, *overfull == head_device(counts));
        throw Error(fmt::format(
            "{}: {} of its {} layers fit ({}). Use --gpu-layers auto{}, a smaller --ctx-size, "
            "--kv-type q8_0, or a smaller quantization",
            device.label, fit, counts[*overfull], device.memory_note,
            devices.size() > 1 ? ", --tensor-split to move layers to another device" : ""));
    }
    return spans_from(counts, devices, total);
}

std::vector<int> parse_device_list(const std::string& text) {
    std::vector<int> devices;
    for (const auto& written : comma_separated(text)) {
        const std::string item = written.rfind("cuda:", 0) == 0 ? written.substr(5) : written;
        int index = -1;
        const auto [last, error] = std::from_chars(item.data(), item.data() + item.size(), index);
        if (item.empty() || error != std::errc() || last != item.data() + item.size() || index < 0)
            throw Error(
                fmt::format("--devices '{}': '{}' is not a CUDA device (cuda:N)", text, written));
        devices.push_back(index);
    }
    return devices;
}

std::vector<double> parse_tensor_split(const std::string& text, size_t device_count) {
    std::vector<double> proportions;
    for (const auto& item : comma_separated(text)) {
        double value = -1.0;
        const auto [last, error] = std::from_chars(item.data(), item.data() + item.size(), value);
        if (item.empty() || error != std::errc() || last != item.data() + item.size() ||
            !std::isfinite(value) || value < 0.0)
            throw Error(
                fmt::format("--tensor-split '{}': '{}' is not a proportion (a number of 0 or more)",
                            text, item));
        proportions.push_back(value);
    }
    if (proportions.size() != device_count)
        throw Error(fmt::format("--tensor-split '{}' has {} proportions for {} devices", text,
                                proportions.size(), device_count));
    if (std::accumulate(proportions.begin(), proportions.end(), 0.0) <= 0.0)
        throw Error(fmt::format("--tensor-split '{}' gives no device a share", text));
    return proportions;
}

uint64_t parse_memory_size(const std::string& text, const std::string& knob) {
    double value = -1.0;
    const auto [last, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    const std::string unit(last, text.data() + text.size());
    struct Unit {
        const char* name;
        double bytes;
    };
    static constexpr Unit kUnits[] = {{"", 1.0},
                                      {"B", 1.0},
                                      {"K", 1024.0},
                                      {"KiB", 1024.0},
                                      {"KB", 1e3},
                                      {"M", 1048576.0},
                                      {"MiB", 1048576.0},
                                      {"MB", 1e6},
                                      {"G", 1073741824.0},
                                      {"GiB", 1073741824.0},
                                      {"GB", 1e9},
                                      {"T", 1099511627776.0},
                                      {"TiB", 1099511627776.0},
                                      {"TB", 1e12}};
    const auto bad = [&](const char* why) {
        return Error(fmt::format("{} '{}' {} (examples: 4GiB, 8G, 512MiB, 6GB)", knob, text, why));
    };
    if (text.empty() || error != std::errc() || !std::isfinite(value)) throw bad("is not a size");
    for (const auto& candidate : kUnits) {
        if (unit != candidate.name) continue;
        const double bytes = value * candidate.bytes;
        if (bytes < 1.0) throw bad("must be more than 0");
        if (bytes > 1e18) throw bad("is too large");
        return static_cast<uint64_t>(bytes);
    }
    throw bad("has an unknown unit");
}

}  // namespace llcuda
