#pragma once
// How much memory the machine can still give this process (Linux MemAvailable), so that large
// buffers are checked before they are allocated and a too-large request gets an error naming
// the option to lower, not std::bad_alloc.
#include <cstdint>
#include <optional>
#include <string>

namespace llcuda {

// nullopt when the system does not say (then no check is made).
std::optional<uint64_t> available_memory_bytes();

// Throws llcuda::Error "<what> needs X GiB, more than the Y GiB of memory available; <advice>"
// when `bytes` exceed what is available.
void check_memory_available(uint64_t bytes, const std::string& what, const std::string& advice);

}  // namespace llcuda
