#pragma once
// Perplexity over a text as llama-perplexity measures it, and the KL divergence of a model's
// next-token distributions from a base model's (how users judge a quantization).
// The text is cut into chunks of `context` tokens, each run in a fresh sequence (BOS first when
// the vocabulary adds one); the second half of each chunk is scored, the first half is context.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "llcuda/engine.hpp"

namespace llcuda {

// log(sum(exp(logits))) in double.
double log_sum_exp(std::span<const float> logits);

// Running mean of values with its standard error.
class MeanEstimate {
  public:
    void add(double value);
    size_t count() const { return count_; }
    double mean() const;
    double standard_error() const;

  private:
    size_t count_ = 0;
    double sum_ = 0, sum_of_squares_ = 0;
};

// KL(base || model) of two next-token distributions given as logits.
double kl_divergence(std::span<const float> base_logits, std::span<const float> logits);

struct PerplexityOptions {
    size_t context = 512;            // tokens per chunk
    size_t chunks = 0;               // 0: every whole chunk of the text
    int32_t chunk_start_token = -1;  // >= 0: replaces each chunk's first token (BOS)
};

// The scored part of one chunk: its tokens and the logits of the positions that are scored.
struct ScoredChunk {
    std::vector<int32_t> tokens;  // the whole chunk as run
    size_t first_scored = 0;      // logits row first_scored predicts tokens[first_scored + 1]
    std::vector<float> logits;    // [tokens.size() - 1 - first_scored][vocab]
};

struct PerplexityReport {
    MeanEstimate negative_log_likelihood;  // per scored token
    size_t chunks = 0;
    double perplexity() const;
    double perplexity_error() const;  // standard error propagated through exp
};

// Runs `tokens` chunk by chunk; `on_chunk` sees each scored chunk (to save or compare its
// logits) and the report so far. Throws when the text has fewer than one chunk of tokens.
PerplexityReport measure_perplexity(
    Engine& engine, const std::vector<int32_t>& tokens, const PerplexityOptions& options,
    const std::function<void(const ScoredChunk&, const PerplexityReport&)>& on_chunk);

}  // namespace llcuda
