#include <gtest/gtest.h>

#include "percentiles.hpp"

using loadgen::summarize;

TEST(Percentiles, NearestRank) {
    std::vector<double> v;
    for (int i = 1000; i >= 1; --i) v.push_back(i);  // unsorted on purpose
    auto s = summarize(v);
    EXPECT_EQ(s.count, 1000u);
    EXPECT_EQ(s.p50, 500);
    EXPECT_EQ(s.p90, 900);
    EXPECT_EQ(s.p99, 990);
    EXPECT_EQ(s.p999, 999);
    EXPECT_EQ(s.max, 1000);
    EXPECT_DOUBLE_EQ(s.mean, 500.5);
}

TEST(Percentiles, SingleSampleAndEmpty) {
    auto one = summarize({7});
    EXPECT_EQ(one.p50, 7);
    EXPECT_EQ(one.p999, 7);
    auto none = summarize({});
    EXPECT_EQ(none.count, 0u);
    EXPECT_FALSE(loadgen::to_json(none).contains("p50"));
    EXPECT_DOUBLE_EQ(loadgen::to_json(one, 1e3)["max"].get<double>(), 7000);
}
