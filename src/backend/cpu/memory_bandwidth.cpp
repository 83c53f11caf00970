#include "backend/cpu/memory_bandwidth.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "core/system_memory.hpp"

namespace llcuda {
namespace {

// Four independent sums of 32-byte lanes (pairs of SSE2 loads in a baseline x86-64 build):
// eight loads in flight per step. A core's reads are bounded by the cache lines it has in
// flight more than by its load width.
using Lane = uint64_t __attribute__((vector_size(32)));

uint64_t sum_lanes(const Lane* data, size_t count) {
    Lane a{}, b{}, c{}, d{};
    size_t i = 0;
    for (; i + 4 <= count; i += 4) {
        a += data[i];
        b += data[i + 1];
        c += data[i + 2];
        d += data[i + 3];
    }
    for (; i < count; ++i) a += data[i];
    const Lane total = a + b + c + d;
    return total[0] + total[1];
}

}  // namespace

MemoryReadBandwidth measure_memory_read_bandwidth(size_t threads, size_t buffer_bytes) {
    threads = std::max<size_t>(threads, 1);
    if (const auto available = available_memory_bytes())
        buffer_bytes = std::min<size_t>(buffer_bytes, *available / 8);
    const size_t lanes_per_thread =
        std::max<size_t>(buffer_bytes / sizeof(Lane) / threads / 64 * 64, 64);
    const size_t lanes = lanes_per_thread * threads;
    std::unique_ptr<Lane[]> buffer(new Lane[lanes]);
    // Written by the threads that read it, so each thread's pages sit near it (first touch).
    std::vector<uint64_t> sums(threads, 0);
    constexpr int kPasses = 5;  // the first also maps the pages and is not counted
    double best_seconds = 0;
    for (int pass = 0; pass <= kPasses; ++pass) {
        std::vector<std::thread> workers;
        const auto start = std::chrono::steady_clock::now();
        for (size_t t = 0; t < threads; ++t) {
            workers.emplace_back([&, t, pass] {
                Lane* part = buffer.get() + t * lanes_per_thread;
                if (pass == 0)
                    std::memset(part, static_cast<int>(t + 1), lanes_per_thread * sizeof(Lane));
                sums[t] += sum_lanes(part, lanes_per_thread);
            });
        }
        for (auto& worker : workers) worker.join();
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (pass > 0 && (best_seconds == 0 || seconds < best_seconds)) best_seconds = seconds;
    }
    // The sums are used, so the reads cannot be optimised away.
    uint64_t checksum = 0;
    for (const auto sum : sums) checksum ^= sum;
    asm volatile("" : : "r"(checksum));
    MemoryReadBandwidth result;
    result.threads = threads;
    result.buffer_bytes = lanes * sizeof(Lane);
    result.bytes_per_second = static_cast<double>(result.buffer_bytes) / best_seconds;
    return result;
}

}  // namespace llcuda
