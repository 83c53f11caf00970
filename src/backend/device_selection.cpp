#include "backend/device_selection.hpp"

#include <fmt/format.h>

#include <charconv>

#include "backend/cuda/cuda_device.hpp"
#include "core/error.hpp"

namespace llcuda {

DeviceRequest parse_device(const std::string& text) {
    if (text == "cpu") return {DeviceKind::Cpu, 0};
    if (text == "cuda") return {DeviceKind::Cuda, 0};
    if (text.rfind("cuda:", 0) == 0) {
        int index = -1;
        const char* begin = text.data() + 5;
        const char* end = text.data() + text.size();
        const auto [stop, error] = std::from_chars(begin, end, index);
        if (error == std::errc() && stop == end && begin != end && index >= 0)
            return {DeviceKind::Cuda, index};
    }
    throw Error(fmt::format("unknown device '{}'; use cpu, cuda or cuda:N", text));
}

void check_device_usable(const DeviceRequest& request) {
    if (request.kind == DeviceKind::Cpu) return;
    const auto probe = probe_cuda_device(request.index);
    if (!probe.usable)
        throw Error(fmt::format("cannot use cuda:{}: {}", request.index, probe.problem));
    throw Error(
        fmt::format("cuda:{} ({}, compute capability {}.{}) works, but this version of llcuda runs "
                    "the forward pass on "
                    "the CPU only; the CUDA backend is not implemented yet. Use --device cpu.",
                    request.index, probe.name, probe.compute_major, probe.compute_minor));
}

}  // namespace llcuda
