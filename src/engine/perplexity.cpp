#include "engine/perplexity.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace llcuda {

double log_sum_exp(std::span<const float> logits) {
    const double largest = *std::max_element(logits.begin(), logits.end());
    double sum = 0.0;
    for (const float logit : logits) sum += std::exp(static_cast<double>(logit) - largest);
    return largest + std::log(sum);
}

void MeanEstimate::add(double value) {
    ++count_;
    sum_ += value;
    sum_of_squares_ += value * value;
}

double MeanEstimate::mean() const { return count_ > 0 ? sum_ / static_cast<double>(count_) : 0.0; }

double MeanEstimate::standard_error() const {
    if (count_ < 2) return 0.0;
    const double n = static_cast<double>(count_);
    const double variance = std::max(0.0, (sum_of_squares_ / n - mean() * mean()) * n / (n - 1));
    return std::sqrt(variance / n);
}

double kl_divergence(std::span<const float> base_logits, std::span<const float> logits) {
    if (base_logits.size() != logits.size())
        throw Error(fmt::format("KL divergence of distributions over {} and {} tokens",
                                base_logits.size(), logits.size()));
    const double base_normalizer = log_sum_exp(base_logits);
    const double normalizer = log_sum_exp(logits);
    double divergence = 0.0;
    for (size_t i = 0; i < logits.size(); ++i) {
        const double base_log_p = base_logits[i] - base_normalizer;
        const double log_p = logits[i] - normalizer;
        divergence += std::exp(base_log_p) * (base_log_p - log_p);
    }
    return std::max(0.0, divergence);
}

double PerplexityReport::perplexity() const { return std::exp(negative_log_likelihood.mean()); }

double PerplexityReport::perplexity_error() const {
    return perplexity() * negative_log_likelihood.standard_error();
}

PerplexityReport measure_perplexity(
    Engine& engine, const std::vector<int32_t>& tokens, const PerplexityOptions& options,
    const std::function<void(const ScoredChunk&, const PerplexityReport&)>& on_chunk) {
    const size_t context = options.context;
    if (context < 4)
        throw Error(fmt::format("-c {} is too small for perplexity (at least 4)", context));
    const size_t available = tokens.size() / context;
    if (available == 0) {
        throw Error(
            fmt::format("the text has {} tokens, fewer than one chunk of {} (-c); use a "
                        "longer text or a smaller -c",
                        tokens.size(), context));
    }
    const size_t chunks = options.chunks > 0 ? std::min(options.chunks, available) : available;
    const size_t vocab = engine.summary().vocab_size;
    PerplexityReport report;
    for (size_t c = 0; c < chunks; ++c) {
        ScoredChunk chunk;
        chunk.tokens.assign(tokens.begin() + static_cast<std::ptrdiff_t>(c * context),
                            tokens.begin() + static_cast<std::ptrdiff_t>((c + 1) * context));
        // Each chunk starts as a text does (llama-perplexity replaces its first token by BOS).
        if (options.chunk_start_token >= 0) chunk.tokens[0] = options.chunk_start_token;
        chunk.first_scored = context / 2;
        const auto logits = engine.logits(chunk.tokens);
        chunk.logits.assign(
            logits.begin() + static_cast<std::ptrdiff_t>(chunk.first_scored * vocab),
            logits.end() - static_cast<std::ptrdiff_t>(vocab));
        for (size_t p = chunk.first_scored; p + 1 < context; ++p) {
            const std::span<const float> row(logits.data() + p * vocab, vocab);
            report.negative_log_likelihood.add(log_sum_exp(row) - row[chunk.tokens[p + 1]]);
        }
        report.chunks = c + 1;
        if (on_chunk) on_chunk(chunk, report);
    }
    return report;
}

}  // namespace llcuda
