#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <vector>

#include "core/error.hpp"
#include "engine/logprobs.hpp"
#include "engine/sampler.hpp"

namespace llcuda {
namespace {

const std::vector<float> kLogits{1.0f, 3.0f, 2.0f, 0.5f, 2.9f};

SamplingOptions plain(float temperature) {
    SamplingOptions options;
    options.temperature = temperature;
    options.top_k = 0;
    options.top_p = 1.0f;
    options.min_p = 0.0f;
    options.repeat_penalty = 1.0f;
    return options;
}

TEST(Sampler, TemperatureZeroIsArgmax) {
    Sampler sampler(plain(0.0f));
    EXPECT_EQ(sampler.sample(kLogits, {}), 1);
}

TEST(Sampler, SameSeedSameSequence) {
    auto options = plain(1.0f);
    options.seed = 99;
    Sampler first(options), second(options);
    for (int i = 0; i < 100; ++i) ASSERT_EQ(first.sample(kLogits, {}), second.sample(kLogits, {}));
    options.seed = 100;
    Sampler third(options);
    Sampler fourth(plain(1.0f));
    int differences = 0;
    for (int i = 0; i < 100; ++i)
        differences += third.sample(kLogits, {}) != fourth.sample(kLogits, {});
    EXPECT_GT(differences, 0);
}

TEST(Sampler, FrequenciesFollowTheSoftmax) {
    auto options = plain(1.0f);
    options.seed = 7;
    Sampler sampler(options);
    std::map<int32_t, int> counts;
    const int draws = 20000;
    for (int i = 0; i < draws; ++i) counts[sampler.sample(kLogits, {})]++;
    double total = 0;
    for (const float logit : kLogits) total += std::exp(logit);
    for (size_t token = 0; token < kLogits.size(); ++token) {
        const double expected = std::exp(kLogits[token]) / total;
        EXPECT_NEAR(counts[static_cast<int32_t>(token)] / static_cast<double>(draws), expected,
                    0.015)
            << token;
    }
}

TEST(Sampler, FiltersNarrowTheChoice) {
    auto top_k = plain(5.0f);
    top_k.top_k = 2;
    auto top_p = plain(1.0f);
    top_p.top_p = 0.01f;
    auto min_p = plain(1.0f);
    min_p.min_p = 0.95f;
    for (const auto& options : {top_k, top_p, min_p}) {
        Sampler sampler(options);
        for (int i = 0; i < 200; ++i) {
            const auto token = sampler.sample(kLogits, {});
            ASSERT_TRUE(token == 1 || (options.top_k == 2 && token == 4)) << token;
        }
    }
}

TEST(Sampler, RepetitionPenaltyDemotesRecentTokens) {
    auto options = plain(0.0f);
    options.repeat_penalty = 1.5f;
    Sampler sampler(options);
    const std::vector<int32_t> history{1};
    EXPECT_EQ(sampler.sample(kLogits, history), 4);  // 3.0 / 1.5 = 2.0 < 2.9
    options.repeat_last_n = 0;
    EXPECT_EQ(Sampler(options).sample(kLogits, history), 1);
}

// The GPU hands over only the top-k candidates: sampling from them must equal sampling from
// every logit, draw for draw (ties broken by the smaller id, as the sort does).
TEST(Sampler, TopCandidatesGiveTheSameDrawsAsAllLogits) {
    std::mt19937 rng(11);
    std::uniform_int_distribution<int> level(0, 40);
    std::vector<float> logits(1000);
    for (auto& value : logits) value = static_cast<float>(level(rng)) * 0.25f;  // many ties
    for (const int top_k : {1, 5, 40, 128}) {
        SamplingOptions options;
        options.temperature = 0.9f;
        options.top_k = top_k;
        options.top_p = 0.9f;
        options.min_p = 0.02f;
        options.seed = 77;
        Sampler full(options), from_top(options);
        ASSERT_TRUE(from_top.can_sample_from_top_candidates());
        std::vector<int32_t> ids(logits.size());
        std::iota(ids.begin(), ids.end(), 0);
        std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) {
            return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
        });
        ids.resize(128);  // the GPU's K may exceed this sequence's top_k
        std::vector<float> values;
        for (const auto id : ids) values.push_back(logits[id]);
        for (int draw = 0; draw < 200; ++draw) {
            ASSERT_EQ(full.sample(logits, {}), from_top.sample_from_top_candidates(values, ids))
                << "top_k " << top_k << " draw " << draw;
        }
    }
    SamplingOptions penalised;
    penalised.repeat_penalty = 1.1f;
    EXPECT_FALSE(Sampler(penalised).can_sample_from_top_candidates());
}

TEST(Logprobs, LogSoftmaxOfTheRawLogitsAndTheBestAlternatives) {
    const std::vector<float> logits = {1.0f, 3.0f, 3.0f, -2.0f};
    const auto result = token_logprob(logits, 0, 3);
    double normaliser = 0;
    for (const float logit : logits) normaliser += std::exp(static_cast<double>(logit));
    EXPECT_NEAR(result.logprob, 1.0 - std::log(normaliser), 1e-6);
    ASSERT_EQ(result.top.size(), 3u);
    EXPECT_EQ(result.top[0].first, 1);  // ties: the smaller id first
    EXPECT_EQ(result.top[1].first, 2);
    EXPECT_EQ(result.top[2].first, 0);
    EXPECT_FLOAT_EQ(result.top[2].second, result.logprob);
    EXPECT_EQ(token_logprob(logits, 3, 10).top.size(), 4u);
    EXPECT_THROW(token_logprob(logits, 4, 1), Error);
}

TEST(Sampler, RejectsNonsense) {
    auto options = plain(-1.0f);
    EXPECT_THROW(Sampler{options}, Error);
    options = plain(1.0f);
    options.top_p = 0.0f;
    EXPECT_THROW(Sampler{options}, Error);
    options = plain(1.0f);
    options.min_p = 2.0f;
    EXPECT_THROW(Sampler{options}, Error);
    options = plain(1.0f);
    options.top_k = -3;
    EXPECT_THROW(Sampler{options}, Error);
    options = plain(NAN);
    EXPECT_THROW(Sampler{options}, Error);
}

}  // namespace
}  // namespace llcuda
