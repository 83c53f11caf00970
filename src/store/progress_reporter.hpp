#pragma once
// Download progress: a redrawn bar (bytes, rate, ETA) on a terminal, occasional plain lines
// otherwise (logs, CI), nothing when quiet.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace llcuda {

class ProgressReporter {
  public:
    ProgressReporter(std::string label, uint64_t total_bytes, uint64_t already_have, bool quiet);
    void update(uint64_t bytes_done);  // bytes of the whole file, including already_have
    void finish(uint64_t bytes_done);

  private:
    void draw(uint64_t bytes_done, bool final);

    std::string label_;
    uint64_t total_;
    uint64_t start_bytes_;
    bool quiet_;
    bool terminal_;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_draw_;
    int last_decile_ = -1;
};

std::string format_bytes(uint64_t bytes);

}  // namespace llcuda
