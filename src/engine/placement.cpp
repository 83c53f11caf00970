#include "engine/placement.hpp"

#include <fmt/format.h>

#include <charconv>

#include "backend/device_selection.hpp"
#include "core/error.hpp"
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

DType parse_kv_type(const std::string& text) {
    const auto type = dtype_from_name(text);
    if (!type || (*type != DType::F16 && *type != DType::Q8_0))
        throw Error(fmt::format("--kv-type '{}' is not supported: use f16 or q8_0", text));
    return *type;
}

Placement decide_placement(const PlacementRequest& request, const GgufFile& file,
                           const ModelSpec& hparams) {
    using Kind = GpuLayersRequest::Kind;
    const auto layers = parse_gpu_layers(request.gpu_layers);
    const size_t total = hparams.layer_count;
    const bool wants_gpu_layers = layers.kind == Kind::All || layers.kind == Kind::Auto ||
                                  (layers.kind == Kind::Count && layers.count > 0);
    Placement placement;
    placement.device = TensorDevice::parse(
        request.device.empty() ? (wants_gpu_layers ? "cuda" : "cpu") : request.device);
    if (!placement.device.is_cuda) {
        if (wants_gpu_layers) {
            throw Error(
                fmt::format("--gpu-layers {} asks for the GPU but --device is cpu; use "
                            "--device cuda or drop --gpu-layers",
                            request.gpu_layers));
        }
        placement.note = fmt::format("all {} layers on the CPU", total);
        return placement;
    }
    if (layers.kind == Kind::Count && layers.count == 0) {
        throw Error(
            fmt::format("--gpu-layers 0 puts no layer on {}: drop --device {} to run on the "
                        "CPU, or ask for layers",
                        placement.device.to_string(), request.device));
    }
    const auto probe = check_device_usable(placement.device);
    const auto fit = fit_layers(file, hparams, request.context_size * request.sequences,
                                probe.free_bytes, request.kv_type);
    const std::string sequences =
        request.sequences > 1 ? fmt::format(" for each of {} sequences", request.sequences) : "";
    const std::string memory = fmt::format(
        "{} free on {} ({}), {} per layer with a {}-token {} KV cache{}, {} fixed",
        gib(probe.free_bytes), placement.device.to_string(), probe.name, gib(fit.bytes_per_layer),
        request.context_size, dtype_name(request.kv_type), sequences, gib(fit.fixed_bytes));
    if (layers.kind == Kind::Auto) {
        if (fit.layers_that_fit == 0) {
            throw Error(
                fmt::format("--gpu-layers auto: not even one layer fits ({}); free GPU "
                            "memory, lower --ctx-size, or use --device cpu",
                            memory));
        }
        placement.gpu_layers = fit.layers_that_fit;
        placement.note = fmt::format("auto: {} of {} layers on {} ({})", placement.gpu_layers,
                                     total, placement.device.to_string(), memory);
        return placement;
    }
    placement.gpu_layers = layers.kind == Kind::Count ? std::min(layers.count, total) : total;
    if (placement.gpu_layers > fit.layers_that_fit) {
        throw Error(fmt::format(
            "{} layers on {} do not fit: {}; {} would fit. Use --gpu-layers {} (or auto), a "
            "smaller --ctx-size, --kv-type q8_0, or a smaller quantization",
            placement.gpu_layers, placement.device.to_string(), memory, fit.layers_that_fit,
            fit.layers_that_fit));
    }
    placement.note = fmt::format(
        "{} of {} layers on {}{}", placement.gpu_layers, total, placement.device.to_string(),
        layers.kind == Kind::Count && layers.count > total
            ? fmt::format(" ({} asked for; the model has {})", layers.count, total)
            : "");
    return placement;
}

}  // namespace llcuda
