// Pending: coalescing by primary key, resync and list flags, the max_keys collapse, restore.
#include "pending.hpp"

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

namespace revalidator::worker {
namespace {

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

TEST(Pending, StartsEmpty) {
    Pending p(10);
    EXPECT_TRUE(p.empty());
    EXPECT_EQ(p.size(), 0u);
    EXPECT_FALSE(p.resync_required());
    Batch b = p.take();
    EXPECT_TRUE(b.pks.empty());
    EXPECT_TRUE(b.received.empty());
    EXPECT_FALSE(b.full);
    EXPECT_FALSE(b.list);
}

TEST(Pending, CoalescesByPrimaryKeyKeepingTheEarliestReceiveTime) {
    Pending p(100'000);
    // 1,000 events over 200 rows, receive times out of order.
    for (int i = 0; i < 1000; ++i) {
        std::uint64_t t = 1'000'000 + static_cast<std::uint64_t>((i * 7919) % 1000);
        p.add("row-" + std::to_string(i % 200), t);
    }
    EXPECT_EQ(p.size(), 200u);
    EXPECT_FALSE(p.empty());

    Batch b = p.take();
    EXPECT_EQ(b.pks.size(), 200u);
    EXPECT_EQ(b.received.size(), 200u);
    EXPECT_FALSE(b.full);
    std::vector<std::string> want;
    for (int k = 0; k < 200; ++k) want.push_back("row-" + std::to_string(k));
    EXPECT_EQ(sorted(b.pks), sorted(want));
    for (int k = 0; k < 200; ++k) {
        std::uint64_t earliest = UINT64_MAX;
        for (int i = k; i < 1000; i += 200) {
            earliest = std::min<std::uint64_t>(earliest, 1'000'000 + (i * 7919) % 1000);
        }
        EXPECT_EQ(b.received.at("row-" + std::to_string(k)), earliest) << k;
    }
    // take() empties.
    EXPECT_TRUE(p.empty());
    EXPECT_EQ(p.size(), 0u);
    EXPECT_TRUE(p.take().pks.empty());
}

TEST(Pending, LaterAddDoesNotMoveTheReceiveTimeForward) {
    Pending p(10);
    p.add("1", 500);
    p.add("1", 900);
    p.add("1", 300);
    p.add("1", 400);
    EXPECT_EQ(p.take().received.at("1"), 300u);
}

TEST(Pending, RequireResyncKeepsTheFirstReasonUntilTaken) {
    Pending p(10);
    p.require_resync("stream gap");
    p.require_resync("periodic");
    EXPECT_FALSE(p.empty());
    EXPECT_TRUE(p.resync_required());
    Batch b = p.take();
    EXPECT_TRUE(b.full);
    EXPECT_FALSE(b.list);
    EXPECT_EQ(b.reason, "stream gap");
    EXPECT_TRUE(p.empty());
    EXPECT_FALSE(p.resync_required());

    p.require_resync("periodic");
    EXPECT_EQ(p.take().reason, "periodic");
}

TEST(Pending, ResyncKeepsFewKeys) {
    Pending p(10);
    p.add("1", 5);
    p.require_resync("start");
    EXPECT_EQ(p.size(), 1u);
    Batch b = p.take();
    EXPECT_TRUE(b.full);
    EXPECT_EQ(b.received.at("1"), 5u);
}

TEST(Pending, RequireList) {
    Pending p(10);
    p.require_list();
    EXPECT_FALSE(p.empty());
    EXPECT_FALSE(p.resync_required());
    Batch b = p.take();
    EXPECT_TRUE(b.list);
    EXPECT_FALSE(b.full);
    EXPECT_TRUE(b.pks.empty());
    EXPECT_TRUE(p.empty());
}

TEST(Pending, ExactlyMaxKeysIsNotAResync) {
    Pending p(3);
    p.add("a", 1);
    p.add("b", 1);
    p.add("c", 1);
    p.add("a", 1);  // a repeat adds no key
    EXPECT_FALSE(p.resync_required());
    EXPECT_EQ(p.size(), 3u);
}

TEST(Pending, ExceedingMaxKeysCollapsesToAFullResync) {
    Pending p(3);
    for (const char* pk : {"a", "b", "c", "d"}) p.add(pk, 1);
    EXPECT_TRUE(p.resync_required());
    EXPECT_EQ(p.size(), 0u);  // the keys are dropped: memory stays bounded
    EXPECT_FALSE(p.empty());
    Batch b = p.take();
    EXPECT_TRUE(b.full);
    EXPECT_EQ(b.reason, "too many pending keys");
    EXPECT_TRUE(b.pks.empty());
}

TEST(Pending, MemoryStaysBoundedUnderAFlood) {
    Pending p(100);
    for (int i = 0; i < 100'000; ++i) {
        p.add(std::to_string(i), 1);
        ASSERT_LE(p.size(), 100u);
    }
    EXPECT_TRUE(p.resync_required());
}

TEST(Pending, RestorePutsBackKeysAndFlags) {
    Pending p(100);
    p.add("1", 10);
    p.add("2", 20);
    p.require_resync("gap");
    p.require_list();
    Batch b = p.take();
    ASSERT_TRUE(p.empty());

    p.restore(std::move(b));
    EXPECT_TRUE(p.resync_required());
    Batch again = p.take();
    EXPECT_TRUE(again.full);
    EXPECT_TRUE(again.list);
    EXPECT_EQ(again.reason, "gap");
    EXPECT_EQ(sorted(again.pks), (std::vector<std::string>{"1", "2"}));
    EXPECT_EQ(again.received.at("1"), 10u);
    EXPECT_EQ(again.received.at("2"), 20u);
}

TEST(Pending, RestoreMergesWithNewerWork) {
    Pending p(100);
    p.add("1", 10);
    Batch b = p.take();
    // While the batch was being applied, more events came in.
    p.add("1", 50);
    p.add("3", 60);
    p.restore(std::move(b));
    Batch merged = p.take();
    EXPECT_EQ(sorted(merged.pks), (std::vector<std::string>{"1", "3"}));
    EXPECT_EQ(merged.received.at("1"), 10u);  // the older, still unwritten, time wins
    EXPECT_EQ(merged.received.at("3"), 60u);
    EXPECT_FALSE(merged.full);
}

TEST(Pending, RestoreOfAFullResyncWithoutReasonSaysRetry) {
    Pending p(10);
    Batch b;
    b.full = true;
    p.restore(std::move(b));
    EXPECT_EQ(p.take().reason, "retry");
}

TEST(Pending, RestoreKeepsAReasonAlreadyPending) {
    Pending p(10);
    p.require_resync("stream gap");
    Batch b;
    b.full = true;
    b.reason = "cache unreachable";
    p.restore(std::move(b));
    EXPECT_EQ(p.take().reason, "stream gap");
}

TEST(Pending, RestoreOfTooManyKeysCollapses) {
    Pending p(2);
    Batch b;
    for (const char* pk : {"a", "b", "c"}) {
        b.pks.push_back(pk);
        b.received[pk] = 1;
    }
    p.restore(std::move(b));
    EXPECT_TRUE(p.resync_required());
    EXPECT_LE(p.size(), 2u);
}

TEST(Pending, RestoreOfAnEmptyBatchLeavesNothingToDo) {
    Pending p(10);
    p.restore(Batch{});
    EXPECT_TRUE(p.empty());
}

}  // namespace
}  // namespace revalidator::worker
