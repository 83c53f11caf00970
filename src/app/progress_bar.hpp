#pragma once
// A one-line progress bar on stderr, redrawn in place: count, percentage, rate and time left.
// Drawn only when stderr is a terminal, so logs and pipes stay clean.
#include <chrono>
#include <cstddef>
#include <string>

namespace llcuda {

class ProgressBar {
  public:
    explicit ProgressBar(std::string label);
    void update(size_t done, size_t total);
    void finish();  // ends the line

  private:
    std::string label_;
    bool enabled_;
    bool drawn_ = false;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace llcuda
