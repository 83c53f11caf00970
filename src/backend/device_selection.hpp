#pragma once
// Turns a --device request into a device or an error that says why it cannot be used. Never
// falls back silently: asking for CUDA and not getting it is an error.
#include <string>

namespace llcuda {

enum class DeviceKind { Cpu, Cuda };

struct DeviceRequest {
    DeviceKind kind = DeviceKind::Cpu;
    int index = 0;
};

DeviceRequest parse_device(const std::string& text);  // "cpu", "cuda", "cuda:N"

// Throws llcuda::Error unless the requested device can run the model.
void check_device_usable(const DeviceRequest& request);

}  // namespace llcuda
