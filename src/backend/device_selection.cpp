#include "backend/device_selection.hpp"

#include <fmt/format.h>

#include "backend/cuda/cuda_device.hpp"
#include "core/error.hpp"

namespace llcuda {

void check_device_usable(const TensorDevice& request) {
    if (!request.is_cuda) return;
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
