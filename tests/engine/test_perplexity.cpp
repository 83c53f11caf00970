// Perplexity and KL divergence: the estimates against values worked out by hand, and a text
// scored through the embedded model.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.hpp"
#include "engine/perplexity.hpp"

namespace llcuda {
namespace {

TEST(Perplexity, LogSumExpIsStableForLargeLogits) {
    const std::vector<float> logits{1000.0f, 1000.0f};
    EXPECT_NEAR(log_sum_exp(logits), 1000.0 + std::log(2.0), 1e-9);
}

TEST(Perplexity, KlDivergenceMatchesTheDefinition) {
    const std::vector<float> same{0.5f, -1.0f, 2.0f};
    EXPECT_NEAR(kl_divergence(same, same), 0.0, 1e-12);
    // Uniform base over two tokens against p = (0.8, 0.2): 0.5 ln(0.5/0.8) + 0.5 ln(0.5/0.2).
    const std::vector<float> uniform{0.0f, 0.0f};
    const std::vector<float> skewed{std::log(0.8f), std::log(0.2f)};
    EXPECT_NEAR(kl_divergence(uniform, skewed), 0.5 * std::log(0.625) + 0.5 * std::log(2.5), 1e-6);
    EXPECT_THROW(kl_divergence(uniform, same), Error);
}

TEST(Perplexity, MeanEstimateHasTheSampleStandardError) {
    MeanEstimate estimate;
    for (const double value : {1.0, 2.0, 3.0, 4.0}) estimate.add(value);
    EXPECT_DOUBLE_EQ(estimate.mean(), 2.5);
    // sample variance 5/3, standard error sqrt(5/3 / 4)
    EXPECT_NEAR(estimate.standard_error(), std::sqrt(5.0 / 12.0), 1e-12);
}

TEST(Perplexity, ScoresTheSecondHalfOfEveryChunk) {
    EngineOptions options;
    options.threads = 2;
    options.context_size = 32;
    Engine engine(options);
    const auto tokens = engine.tokenize(
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
        "park with her friends. One day she saw a big red ball. She ran to get it and her mom "
        "said it was time to go home. Lily was sad but she said goodbye to the ball.",
        false);
    ASSERT_GE(tokens.size(), 64u);
    size_t seen = 0;
    const auto report =
        measure_perplexity(engine, tokens, {.context = 32, .chunks = 2, .chunk_start_token = 1},
                           [&](const ScoredChunk& chunk, const PerplexityReport&) {
                               ++seen;
                               EXPECT_EQ(chunk.tokens.front(), 1);
                               EXPECT_EQ(chunk.first_scored, 16u);
                               EXPECT_EQ(chunk.logits.size(), 15u * engine.summary().vocab_size);
                           });
    EXPECT_EQ(seen, 2u);
    EXPECT_EQ(report.negative_log_likelihood.count(), 30u);
    // A trained model on the text it was trained for: far better than uniform over 512 tokens.
    EXPECT_GT(report.perplexity(), 1.0);
    EXPECT_LT(report.perplexity(), 100.0);
    EXPECT_THROW(measure_perplexity(engine, std::vector<int32_t>(10, 5), {.context = 32}, {}),
                 Error);
}

}  // namespace
}  // namespace llcuda
