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

// Which tokens may come next (a grammar, engine/grammar_constraint.hpp): one token at a time,
// cheaply, or the whole vocabulary at once.
class TokenFilter {
  public:
    virtual ~TokenFilter() = default;
    virtual bool allows(int32_t token) const = 0;
    // allowed[id] for every token of the vocabulary.
    virtual void allowed_tokens(std::vector<bool>& allowed) const = 0;
};

class Sampler {
  public:
    explicit Sampler(SamplingOptions options);
    // `history` holds the tokens so far (for the repetition penalty).
    int32_t sample(std::span<const float> logits, std::span<const int32_t> history);
    // The same with the refused tokens' logits masked out before any filtering: exactly the
    // distribution of sampling from the allowed tokens alone (sampler.cpp says how it avoids
    // the whole-vocabulary mask on most steps). Throws llcuda::Error when nothing is allowed.
    int32_t sample(std::span<const float> logits, std::span<const int32_t> history,
                   const TokenFilter& filter);

    // When top-k is on and there is no repetition penalty, the k best logits (best first, the
    // smaller id on ties) are all sample() looks at: the GPU finds them and only they cross to
    // the host. Gives exactly what sample() gives on all the logits.
    bool can_sample_from_top_candidates() const;
    int32_t sample_from_top_candidates(std::span<const float> values, std::span<const int32_t> ids);
    const SamplingOptions& options() const { return options_; }

  private:
    std::vector<float> penalized(std::span<const float> logits,
                                 std::span<const int32_t> history) const;
    int32_t choose(const std::vector<float>& adjusted);
    // Top-k (when on) of `candidates` by logit, then draw(): greedy takes the best.
    int32_t choose_among(const std::vector<float>& adjusted, std::vector<int32_t> candidates);
    int32_t choose_from_mask(const std::vector<float>& adjusted, const TokenFilter& filter);
    // Temperature, top-p, min-p and the draw over candidates sorted best first.
    int32_t draw(std::span<const float> logits, std::span<const int32_t> candidates);

    SamplingOptions options_;
    std::mt19937_64 generator_;
};

int32_t argmax(std::span<const float> logits);

}  // namespace llcuda
