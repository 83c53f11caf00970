#pragma once
// Helpers of the GPU tests: device copies of host vectors, and random inputs drawn fresh on
// every run (the seed is printed so that a failure can be replayed with LLCUDA_TEST_SEED).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "backend/cuda/device_buffer.hpp"

namespace llcuda::testing {

inline uint64_t test_seed() {
    static const uint64_t seed = [] {
        const char* fixed = std::getenv("LLCUDA_TEST_SEED");
        const uint64_t value = fixed ? std::stoull(fixed) : std::random_device{}();
        std::printf("GPU tests: LLCUDA_TEST_SEED=%llu\n", static_cast<unsigned long long>(value));
        return value;
    }();
    return seed;
}

inline std::vector<float> random_floats(size_t count, float scale, uint64_t salt) {
    std::mt19937_64 generator(test_seed() ^ (salt * 0x9E3779B97F4A7C15ull));
    std::normal_distribution<float> normal(0.0f, scale);
    std::vector<float> values(count);
    for (auto& v : values) v = normal(generator);
    return values;
}

template <typename T>
DeviceBuffer to_device(const std::vector<T>& host) {
    DeviceBuffer buffer(host.size() * sizeof(T), 0);
    cuda_copy_to_device(buffer.get(), host.data(), host.size() * sizeof(T), 0);
    return buffer;
}

template <typename T>
std::vector<T> to_host(const DeviceBuffer& buffer, size_t count) {
    std::vector<T> host(count);
    cuda_copy_to_host(host.data(), buffer.get(), count * sizeof(T), 0);
    return host;
}

}  // namespace llcuda::testing
