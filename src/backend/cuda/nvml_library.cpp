#include "backend/cuda/nvml_library.hpp"

#include <dlfcn.h>

namespace llcuda {
namespace {

// The few NVML types we use, as nvml.h defines them (a stable C ABI).
using NvmlReturn = int;
using NvmlDevice = void*;
struct NvmlUtilization {
    unsigned gpu;
    unsigned memory;
};
constexpr NvmlReturn kNvmlSuccess = 0;
constexpr int kNvmlTemperatureGpu = 0;

template <typename Function>
Function symbol(void* handle, const char* name) {
    return reinterpret_cast<Function>(dlsym(handle, name));
}

}  // namespace

NvmlLibrary::NvmlLibrary() {
    handle_ = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
        problem_ = "libnvidia-ml.so.1 not found (it comes with the NVIDIA driver)";
        return;
    }
    const auto init = symbol<NvmlReturn (*)()>(handle_, "nvmlInit_v2");
    if (init == nullptr || init() != kNvmlSuccess) {
        problem_ = "NVML did not initialise (driver not loaded?)";
        return;
    }
    initialised_ = true;
}

NvmlLibrary::~NvmlLibrary() {
    if (initialised_) {
        if (const auto shutdown = symbol<NvmlReturn (*)()>(handle_, "nvmlShutdown")) shutdown();
    }
    if (handle_ != nullptr) dlclose(handle_);
}

std::string NvmlLibrary::driver_version() const {
    if (!initialised_) return "";
    const auto get = symbol<NvmlReturn (*)(char*, unsigned)>(handle_, "nvmlSystemGetDriverVersion");
    char version[96] = {};
    if (get == nullptr || get(version, sizeof(version)) != kNvmlSuccess) return "";
    return version;
}

NvmlDeviceStatus NvmlLibrary::device_status(unsigned index) const {
    NvmlDeviceStatus status;
    if (!initialised_) return status;
    const auto get_handle =
        symbol<NvmlReturn (*)(unsigned, NvmlDevice*)>(handle_, "nvmlDeviceGetHandleByIndex_v2");
    NvmlDevice device = nullptr;
    if (get_handle == nullptr || get_handle(index, &device) != kNvmlSuccess) return status;
    unsigned value = 0;
    if (const auto get =
            symbol<NvmlReturn (*)(NvmlDevice, int, unsigned*)>(handle_, "nvmlDeviceGetTemperature");
        get && get(device, kNvmlTemperatureGpu, &value) == kNvmlSuccess) {
        status.temperature_celsius = value;
    }
    if (const auto get =
            symbol<NvmlReturn (*)(NvmlDevice, unsigned*)>(handle_, "nvmlDeviceGetPowerUsage");
        get && get(device, &value) == kNvmlSuccess) {
        status.power_watts = value / 1000.0;
    }
    if (const auto get = symbol<NvmlReturn (*)(NvmlDevice, unsigned*)>(
            handle_, "nvmlDeviceGetEnforcedPowerLimit");
        get && get(device, &value) == kNvmlSuccess) {
        status.power_limit_watts = value / 1000.0;
    }
    NvmlUtilization utilization{};
    if (const auto get = symbol<NvmlReturn (*)(NvmlDevice, NvmlUtilization*)>(
            handle_, "nvmlDeviceGetUtilizationRates");
        get && get(device, &utilization) == kNvmlSuccess) {
        status.gpu_utilization_percent = utilization.gpu;
        status.memory_utilization_percent = utilization.memory;
    }
    return status;
}

}  // namespace llcuda
