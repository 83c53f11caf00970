#pragma once
// Picks the next token from logits: repetition penalty, then top-k, top-p and min-p
// filtering, then temperature and a draw from a seeded generator (reproducible for a seed).
// Temperature 0 is greedy (argmax).
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "llcuda/engine.hpp"

namespace llcuda {

class Sampler {
  public:
    explicit Sampler(SamplingOptions options);
    // `history` holds the tokens so far (for the repetition penalty).
    int32_t sample(std::span<const float> logits, std::span<const int32_t> history);
    const SamplingOptions& options() const { return options_; }

  private:
    SamplingOptions options_;
    std::mt19937_64 generator_;
};

int32_t argmax(std::span<const float> logits);

}  // namespace llcuda
