#include "backend/device_selection.hpp"

#include <fmt/format.h>

#include "core/error.hpp"

namespace llcuda {

CudaDeviceProbe check_device_usable(const TensorDevice& request) {
    if (!request.is_cuda) return {};
    auto probe = probe_cuda_device(request.index);
    if (!probe.usable)
        throw Error(fmt::format("cannot use cuda:{}: {}", request.index, probe.problem));
    require_cublas();
    return probe;
}

}  // namespace llcuda
