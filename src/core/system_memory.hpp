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

// The error for a GPU whose free memory cannot hold the weights placed on it plus the KV cache,
// or nullopt when both fit: it names the KV cache, its size, the GPU's free memory and the
// flags that size it (-c/--ctx-size, and --parallel for serve), so `serve --parallel 1024
// -c 4096` fails before anything is allocated instead of with std::bad_alloc (issue 17 #11).
// Pure (free memory is an argument) so it is tested without a GPU; the CUDA path passes
// cudaMemGetInfo's figure.
std::optional<std::string> gpu_kv_cache_shortfall(uint64_t weight_bytes, uint64_t kv_cache_bytes,
                                                  uint64_t free_gpu_bytes);

// Throws llcuda::Error with gpu_kv_cache_shortfall's message when there is one.
void check_gpu_kv_cache_fits(uint64_t weight_bytes, uint64_t kv_cache_bytes,
                             uint64_t free_gpu_bytes);

}  // namespace llcuda
