#include "nines.hpp"

#include <limits>
#include <vector>

#include <gtest/gtest.h>

namespace loadgen {
namespace {

TEST(Nines, ASharePrintsItsNinesAndIsNeverRoundedUp) {
    EXPECT_EQ(percent(100), "100 %");
    EXPECT_EQ(percent(99.97), "99.97 %");
    EXPECT_EQ(percent(99.996), "99.996 %");
    EXPECT_EQ(percent(99.9), "99.90 %");
    EXPECT_EQ(percent(100.0 * 9999 / 10000), "99.99 %");
    EXPECT_EQ(percent(99.99998), "99.99998 %");
    EXPECT_EQ(percent(12.349), "12.34 %");
}

TEST(Nines, EachBoundCountsTheChangesWithinItAndANeverSeenChangeIsWithinNone) {
    std::vector<double> ms(9998, 5.0);
    ms.push_back(150);
    ms.push_back(std::numeric_limits<double>::infinity());
    EXPECT_DOUBLE_EQ(share_within(ms, 10), 99.98);
    EXPECT_DOUBLE_EQ(share_within(ms, 1000), 99.99);
    EXPECT_EQ(nines(ms),
              "99.98 % within 10 ms, 99.98 % within 100 ms, 99.99 % within 1 s, 99.99 % within 5 "
              "s (10000 changes)");
    EXPECT_EQ(nines({}), "no changes");
}

}  // namespace
}  // namespace loadgen
