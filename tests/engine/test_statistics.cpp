// The statistics bench reports: percentiles interpolate like numpy's default, the standard
// deviation is the sample one, and bad input is refused.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "engine/statistics.hpp"

namespace llcuda {
namespace {

TEST(Statistics, PercentilesInterpolateBetweenRanks) {
    const std::vector<double> values = {15, 20, 35, 40, 50};
    EXPECT_DOUBLE_EQ(percentile(values, 0), 15);
    EXPECT_DOUBLE_EQ(percentile(values, 50), 35);
    EXPECT_DOUBLE_EQ(percentile(values, 100), 50);
    EXPECT_DOUBLE_EQ(percentile(values, 40), 29);    // numpy.percentile: 29.0
    EXPECT_DOUBLE_EQ(percentile(values, 95), 48);    // 40 + 0.8 * 10
    EXPECT_DOUBLE_EQ(percentile({5, 1, 3}, 50), 3);  // order of input does not matter
    EXPECT_DOUBLE_EQ(percentile({7}, 99), 7);
    EXPECT_THROW(percentile({}, 50), Error);
    EXPECT_THROW(percentile({1, 2}, 101), Error);
}

TEST(Statistics, SummaryOfRepeatedMeasurements) {
    const auto s = summarize({2, 4, 4, 4, 5, 5, 7, 9});
    EXPECT_EQ(s.count, 8u);
    EXPECT_DOUBLE_EQ(s.mean, 5);
    EXPECT_NEAR(s.stddev, 2.138089935, 1e-9);  // sample (n - 1) standard deviation
    EXPECT_DOUBLE_EQ(s.min, 2);
    EXPECT_DOUBLE_EQ(s.max, 9);
    EXPECT_DOUBLE_EQ(s.p50, 4.5);
    EXPECT_EQ(summarize({}).count, 0u);
    EXPECT_DOUBLE_EQ(summarize({3}).stddev, 0);
}

}  // namespace
}  // namespace llcuda
