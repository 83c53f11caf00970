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

}  // namespace llcuda
