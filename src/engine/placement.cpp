#include "engine/placement.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "backend/device_selection.hpp"
#include "core/error.hpp"
#include "core/system_memory.hpp"
#include "engine/gpu_plan.hpp"
#include "model/memory_estimate.hpp"

namespace llcuda {
namespace {

std::string gib(uint64_t bytes) {
    return fmt::format("{:.2f} GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
}

}  // namespace

GpuLayersRequest parse_gpu_layers(const std::string& text) {
    GpuLayersRequest request;
    if (text.empty()) return request;
    if (text == "all") {
        request.kind = GpuLayersRequest::Kind::All;
        return request;
    }
    if (text == "auto") {
        request.kind = GpuLayersRequest::Kind::Auto;
        return request;
    }
    size_t count = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), count);
    if (error != std::errc() || end != text.data() + text.size()) {
        throw Error(
            fmt::format("--gpu-layers '{}' is not a number of layers, 'all' or 'auto'", text));
    }
    request.kind = GpuLayersRequest::Kind::Count;
    request.count = count;
    return request;
}

KvTypes parse_kv_type(const std::string& text) {
    if (text == "auto") return {};
    const auto type = dtype_from_name(text);
    if (!type || (*type != DType::F32 && *type != DType::F16 && *type != DType::Q8_0)) {
        throw Error(
            fmt::format("--kv-type '{}' is not supported: use auto, f32, f16 or q8_0", text));
    }
    // F32 is for the CPU's layers; the engine refuses it when GPU layers are placed.
    return {.cpu = *type, .gpu = *type == DType::F32 ? DType::F16 : *type};
}

namespace {

// The CUDA devices asked for: --devices, else cuda:N alone, else (plain "cuda") every GPU.
std::vector<int> requested_devices(const PlacementRequest& request, const TensorDevice& device) {
    if (!request.devices.empty()) return parse_device_list(request.devices);
    if (request.device == "cuda" || request.device.empty()) {
        const auto system = query_cuda_system();
        std::vector<int> all;
        for (int i = 0; i < system.device_count; ++i) all.push_back(i);
        if (!all.empty()) return all;
    }
    return {device.index};  // check_device_usable says why it cannot be used
}

// What each listed device can take: its free memory (at most --gpu-memory), shared evenly by
// the segments that name the same device.
std::vector<DeviceCapacity> device_capacities(const PlacementRequest& request,
                                              const std::vector<int>& devices, const GgufFile& file,
                                              const ModelSpec& hparams) {
    const bool capped = !request.gpu_memory.empty();
    const uint64_t cap =
        capped ? parse_memory_size(request.gpu_memory, request.gpu_memory_knob) : UINT64_MAX;
    const size_t context = request.context_size * request.sequences;
    const std::string sequences =
        request.sequences > 1 ? fmt::format(" for each of {} sequences", request.sequences) : "";
    std::vector<DeviceCapacity> capacities;
    for (const int index : devices) {
        const TensorDevice device{true, index};
        const auto probe = check_device_usable(device);
        if (capped && cap > probe.total_bytes) {
            throw Error(fmt::format("{} {} is more than {} ({}) has: {}", request.gpu_memory_knob,
                                    request.gpu_memory, device.to_string(), probe.name,
                                    gib(probe.total_bytes)));
        }
        const auto sharing =
            static_cast<uint64_t>(std::count(devices.begin(), devices.end(), index));
        const uint64_t usable = std::min<uint64_t>(probe.free_bytes, cap) / sharing;
        const auto body = fit_layers(file, hparams, context, usable, request.kv_type, false);
        const auto head = fit_layers(file, hparams, context, usable, request.kv_type, true);
        DeviceCapacity capacity;
        capacity.device = index;
        capacity.label = fmt::format("{} ({})", device.to_string(), probe.name);
        capacity.usable_bytes = usable;
        capacity.layers_that_fit = body.layers_that_fit;
        capacity.layers_that_fit_head = head.layers_that_fit;
        capacity.memory_note = fmt::format(
            "{} usable of {} free{}{}, {} per layer with a {}-token {} KV cache{}, {} fixed",
            gib(usable), gib(probe.free_bytes),
            capped ? fmt::format(" ({} {})", request.gpu_memory_knob, request.gpu_memory) : "",
            sharing > 1 ? fmt::format(", shared by {} segments", sharing) : "",
            gib(head.bytes_per_layer), request.context_size, dtype_name(request.kv_type), sequences,
            gib(head.fixed_bytes));
        capacities.push_back(std::move(capacity));
    }
    return capacities;
}

std::string describe_spans(const std::vector<GpuSpan>& spans) {
    std::string text;
    for (const auto& span : spans) {
        text += fmt::format("{}layers {}-{} on cuda:{}", text.empty() ? "" : ", ", span.first_layer,
                            span.end_layer - 1, span.device);
    }
    return text;
}

// Layers asked for by number (or all) on one GPU whose KV cache cannot fit beside their weights:
// the error names the KV cache, its size and -c/--ctx-size and --parallel before anything is
// allocated (`run -c 1048576 --device cuda`, `serve --parallel 1024 -c 4096` ended in
// std::bad_alloc, issue 17 #11). A shortfall of the weights alone stays the planner's error,
// which names the layers that fit.
void check_kv_cache_fits(const PlacementRequest& request, const DeviceCapacity& capacity,
                         size_t layers, const GgufFile& file, const ModelSpec& hparams) {
    const auto fit = fit_layers(file, hparams, request.context_size * request.sequences,
                                capacity.usable_bytes, request.kv_type, true);
    const uint64_t kv_bytes = fit.kv_bytes_per_layer * layers;
    const uint64_t weight_bytes =
        fit.fixed_bytes + (fit.bytes_per_layer - fit.kv_bytes_per_layer) * layers;
    if (weight_bytes > capacity.usable_bytes && kv_bytes <= capacity.usable_bytes) return;
    check_gpu_kv_cache_fits(weight_bytes, kv_bytes, capacity.usable_bytes);
}

}  // namespace

Placement decide_placement(const PlacementRequest& request, const GgufFile& file,
                           const ModelSpec& hparams) {
    using Kind = GpuLayersRequest::Kind;
    auto layers = parse_gpu_layers(request.gpu_layers);
    const size_t total = hparams.layer_count;
    // --gpu-memory alone plans for a GPU of that size: as many layers as fit (the environment's
    // LLCUDA_GPU_MEMORY only caps a GPU asked for otherwise).
    const bool memory_asked =
        !request.gpu_memory.empty() && request.gpu_memory_knob == "--gpu-memory";
    if (memory_asked && layers.kind == Kind::Unspecified) layers.kind = Kind::Auto;
    const bool wants_gpu_layers = layers.kind == Kind::All || layers.kind == Kind::Auto ||
                                  (layers.kind == Kind::Count && layers.count > 0) ||
                                  !request.devices.empty();
    Placement placement;
    placement.device = TensorDevice::parse(
        request.device.empty() ? (wants_gpu_layers ? "cuda" : "cpu") : request.device);
    if (!placement.device.is_cuda) {
        if (wants_gpu_layers) {
            const std::string knob = !request.devices.empty() ? "--devices " + request.devices
                                     : request.gpu_layers.empty()
                                         ? "--gpu-memory " + request.gpu_memory
                                         : "--gpu-layers " + request.gpu_layers;
            throw Error(fmt::format(
                "{} asks for the GPU but --device is cpu; use --device cuda or drop it", knob));
        }
        if (!request.tensor_split.empty())
            throw Error("--tensor-split splits GPU layers, but everything runs on the CPU");
        placement.note = fmt::format("all {} layers on the CPU", total);
        return placement;
    }
    if (!request.devices.empty() && request.device != "cuda" && !request.device.empty()) {
        throw Error(fmt::format("--device {} and --devices {} disagree: give one of them",
                                request.device, request.devices));
    }
    if (layers.kind == Kind::Count && layers.count == 0) {
        throw Error(
            fmt::format("--gpu-layers 0 puts no layer on {}: drop --device {} to run on the "
                        "CPU, or ask for layers",
                        placement.device.to_string(), request.device));
    }
    const auto devices = requested_devices(request, placement.device);
    const auto capacities = device_capacities(request, devices, file, hparams);
    if (devices.size() == 1 && layers.kind != Kind::Auto) {
        const size_t asked = layers.kind == Kind::Count ? std::min(layers.count, total) : total;
        check_kv_cache_fits(request, capacities.front(), asked, file, hparams);
    }
    GpuPlanRequest plan_request;
    plan_request.layer_count = total;
    plan_request.layers = layers.kind == Kind::Auto    ? GpuPlanRequest::Layers::Auto
                          : layers.kind == Kind::Count ? GpuPlanRequest::Layers::Count
                                                       : GpuPlanRequest::Layers::All;
    plan_request.count = layers.count;
    if (!request.tensor_split.empty())
        plan_request.tensor_split = parse_tensor_split(request.tensor_split, devices.size());
    const auto plan = plan_gpu_layers(plan_request, capacities);
    placement.spans = plan.spans;
    placement.gpu_layers = plan.gpu_layers;
    placement.device = TensorDevice{true, plan.spans.front().device};
    std::string memory;
    for (const auto& capacity : capacities)
        memory += fmt::format("{}{}: {}", memory.empty() ? "" : "; ", capacity.label,
                              capacity.memory_note);
    const std::string where = plan.spans.size() == 1
                                  ? "on " + placement.device.to_string()
                                  : "in segments (" + describe_spans(plan.spans) + ")";
    if (layers.kind == Kind::Auto) {
        placement.note = fmt::format("auto: {} of {} layers {} ({})", placement.gpu_layers, total,
                                     where, memory);
    } else {
        placement.note =
            fmt::format("{} of {} layers {}{}", placement.gpu_layers, total, where,
                        layers.kind == Kind::Count && layers.count > total
                            ? fmt::format(" ({} asked for; the model has {})", layers.count, total)
                            : "");
    }
    return placement;
}

}  // namespace llcuda
