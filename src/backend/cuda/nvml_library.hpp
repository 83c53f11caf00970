#pragma once
// NVIDIA's management library (NVML), loaded at run time with dlopen so llcuda starts on
// machines without it; only temperature, power, utilisation and memory are read.
#include <cstddef>
#include <optional>
#include <string>

namespace llcuda {

struct NvmlDeviceStatus {
    std::optional<unsigned> temperature_celsius;
    std::optional<double> power_watts;
    std::optional<double> power_limit_watts;
    std::optional<unsigned> gpu_utilization_percent;
    std::optional<unsigned> memory_utilization_percent;
};

class NvmlLibrary {
  public:
    NvmlLibrary();  // never throws: available() says whether it loaded and initialised
    ~NvmlLibrary();
    NvmlLibrary(const NvmlLibrary&) = delete;
    NvmlLibrary& operator=(const NvmlLibrary&) = delete;

    bool available() const { return initialised_; }
    const std::string& problem() const { return problem_; }  // why not available
    std::string driver_version() const;
    NvmlDeviceStatus device_status(unsigned index) const;

  private:
    void* handle_ = nullptr;
    bool initialised_ = false;
    std::string problem_;
};

}  // namespace llcuda
