#include "net/stats.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sparkctl::net {
namespace {

// Hand-computed with rank h = q * (n - 1) and linear interpolation (numpy's default).
TEST(Stats, OneToTen) {
    auto s = summarize({10, 9, 8, 7, 6, 5, 4, 3, 2, 1});  // order must not matter
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->count, 10u);
    EXPECT_DOUBLE_EQ(s->mean, 5.5);
    EXPECT_DOUBLE_EQ(s->p50, 5.5);      // h = 4.5: 5 + 0.5 * (6 - 5)
    EXPECT_DOUBLE_EQ(s->p90, 9.1);      // h = 8.1: 9 + 0.1 * 1
    EXPECT_DOUBLE_EQ(s->p95, 9.55);     // h = 8.55
    EXPECT_DOUBLE_EQ(s->p99, 9.91);     // h = 8.91
    EXPECT_DOUBLE_EQ(s->p99_9, 9.991);  // h = 8.991
}

TEST(Stats, UnevenGaps) {
    // Sorted {1, 2, 4, 8, 100}; n - 1 = 4.
    auto s = summarize({100, 1, 8, 2, 4});
    ASSERT_TRUE(s.ok());
    EXPECT_DOUBLE_EQ(s->mean, 23.0);
    EXPECT_DOUBLE_EQ(s->p50, 4.0);                // h = 2 exactly
    EXPECT_DOUBLE_EQ(s->p90, 8 + 0.6 * 92);       // h = 3.6
    EXPECT_DOUBLE_EQ(s->p95, 8 + 0.8 * 92);       // h = 3.8
    EXPECT_NEAR(s->p99, 8 + 0.96 * 92, 1e-9);     // h = 3.96
    EXPECT_NEAR(s->p99_9, 8 + 0.996 * 92, 1e-9);  // h = 3.996
}

TEST(Stats, SingleSampleIsEveryPercentile) {
    auto s = summarize({42});
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->p50, 42);
    EXPECT_EQ(s->p99_9, 42);
    EXPECT_EQ(s->mean, 42);
}

TEST(Stats, PercentileEndpoints) {
    const std::vector<double> v{1, 2, 3};
    EXPECT_EQ(percentile_sorted(v, 0.0), 1);
    EXPECT_EQ(percentile_sorted(v, 1.0), 3);
    EXPECT_EQ(percentile_sorted(v, 0.25), 1.5);
}

TEST(Stats, NoSamplesOrNaNIsAnError) {
    auto empty = summarize({});
    ASSERT_FALSE(empty.ok());
    EXPECT_EQ(empty.error().code, base::Errc::bad_input);
    EXPECT_NE(empty.error().message.find("no samples"), std::string::npos);
    EXPECT_FALSE(summarize({1, std::nan(""), 3}).ok());
}

}  // namespace
}  // namespace sparkctl::net
