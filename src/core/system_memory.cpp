#include "core/system_memory.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "core/error.hpp"

namespace llcuda {

std::optional<uint64_t> available_memory_bytes() {
    std::ifstream meminfo("/proc/meminfo");
    std::string line;
    while (std::getline(meminfo, line)) {
        if (line.rfind("MemAvailable:", 0) != 0) continue;
        std::istringstream fields(line.substr(13));
        uint64_t kibibytes = 0;
        if (fields >> kibibytes) return kibibytes * 1024;
    }
    return std::nullopt;
}

void check_memory_available(uint64_t bytes, const std::string& what, const std::string& advice) {
    const auto available = available_memory_bytes();
    if (!available || bytes <= *available) return;
    constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
    throw Error(fmt::format("{} needs {:.2f} GiB, more than the {:.2f} GiB of memory available; {}",
                            what, static_cast<double>(bytes) / kGiB,
                            static_cast<double>(*available) / kGiB, advice));
}

std::optional<std::string> gpu_kv_cache_shortfall(uint64_t weight_bytes, uint64_t kv_cache_bytes,
                                                  uint64_t free_gpu_bytes) {
    if (weight_bytes <= free_gpu_bytes && kv_cache_bytes <= free_gpu_bytes - weight_bytes) {
        return std::nullopt;
    }
    constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
    const uint64_t left = weight_bytes < free_gpu_bytes ? free_gpu_bytes - weight_bytes : 0;
    return fmt::format(
        "KV cache needs {:.2f} GiB of GPU memory, more than the {:.2f} GiB left of the GPU's "
        "{:.2f} GiB free after {:.2f} GiB of weights; lower -c/--ctx-size (or --parallel for "
        "serve), or put fewer layers on the GPU with --gpu-layers",
        static_cast<double>(kv_cache_bytes) / kGiB, static_cast<double>(left) / kGiB,
        static_cast<double>(free_gpu_bytes) / kGiB, static_cast<double>(weight_bytes) / kGiB);
}

void check_gpu_kv_cache_fits(uint64_t weight_bytes, uint64_t kv_cache_bytes,
                             uint64_t free_gpu_bytes) {
    if (auto message = gpu_kv_cache_shortfall(weight_bytes, kv_cache_bytes, free_gpu_bytes)) {
        throw Error(*message);
    }
}

}  // namespace llcuda
