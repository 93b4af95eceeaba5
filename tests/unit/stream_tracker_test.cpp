// StreamTracker: every verdict, and independent streams.
#include "stream_tracker.hpp"

#include <string>

#include <gtest/gtest.h>

namespace revalidator::worker {
namespace {

Event ev(const std::string& stream, std::uint64_t epoch, std::uint64_t seq, Op op = Op::Update) {
    return Event{stream, epoch, seq, 1, op, "public", "articles", op == Op::End ? "" : "1"};
}

// Feeds seq 1..n of (stream, epoch); every one must be in order.
void feed_in_order(StreamTracker& t, const std::string& stream, std::uint64_t epoch,
                   std::uint64_t n) {
    for (std::uint64_t s = 1; s <= n; ++s)
        ASSERT_EQ(t.observe(ev(stream, epoch, s)), Verdict::InOrder);
}

TEST(StreamTracker, FirstEventWithSeqOneIsInOrder) {
    StreamTracker t;
    EXPECT_EQ(t.observe(ev("a", 10, 1)), Verdict::InOrder);
    EXPECT_EQ(t.streams(), 1u);
}

TEST(StreamTracker, FirstEventMidStreamIsNewStream) {
    StreamTracker t;
    EXPECT_EQ(t.observe(ev("a", 10, 2)), Verdict::NewStream);
    EXPECT_EQ(t.observe(ev("a", 10, 3)), Verdict::InOrder);

    StreamTracker t2;
    EXPECT_EQ(t2.observe(ev("b", 10, 5000)), Verdict::NewStream);
}

TEST(StreamTracker, NextSeqIsInOrder) {
    StreamTracker t;
    feed_in_order(t, "a", 10, 100);
}

TEST(StreamTracker, RepeatIsStale) {
    StreamTracker t;
    feed_in_order(t, "a", 10, 3);
    EXPECT_EQ(t.observe(ev("a", 10, 3)), Verdict::Stale);
    EXPECT_EQ(t.observe(ev("a", 10, 1)), Verdict::Stale);
    // A stale event does not move the stream back: 4 is still next.
    EXPECT_EQ(t.observe(ev("a", 10, 4)), Verdict::InOrder);
}

TEST(StreamTracker, SkipIsGap) {
    StreamTracker t;
    feed_in_order(t, "a", 10, 2);
    EXPECT_EQ(t.observe(ev("a", 10, 4)), Verdict::Gap);
    // The stream continues from the newest number.
    EXPECT_EQ(t.observe(ev("a", 10, 5)), Verdict::InOrder);
    EXPECT_EQ(t.observe(ev("a", 10, 3)), Verdict::Stale);
}

TEST(StreamTracker, OlderEpochIsStale) {
    StreamTracker t;
    feed_in_order(t, "a", 20, 2);
    EXPECT_EQ(t.observe(ev("a", 10, 1)), Verdict::Stale);
    EXPECT_EQ(t.observe(ev("a", 10, 3)), Verdict::Stale);
    // The old epoch does not replace the current one.
    EXPECT_EQ(t.observe(ev("a", 20, 3)), Verdict::InOrder);
}

TEST(StreamTracker, NewEpochAfterEndIsInOrder) {
    StreamTracker t;
    feed_in_order(t, "a", 10, 2);
    EXPECT_EQ(t.observe(ev("a", 10, 3, Op::End)), Verdict::InOrder);
    EXPECT_EQ(t.observe(ev("a", 11, 1)), Verdict::InOrder);
    EXPECT_EQ(t.observe(ev("a", 11, 2)), Verdict::InOrder);
}

TEST(StreamTracker, NewEpochWithoutEndIsRestarted) {
    StreamTracker t;
    feed_in_order(t, "a", 10, 2);
    EXPECT_EQ(t.observe(ev("a", 11, 1)), Verdict::Restarted);
    EXPECT_EQ(t.observe(ev("a", 11, 2)), Verdict::InOrder);
}

TEST(StreamTracker, NewEpochAfterEndButNotFromOneIsRestarted) {
    StreamTracker t;
    feed_in_order(t, "a", 10, 2);
    EXPECT_EQ(t.observe(ev("a", 10, 3, Op::End)), Verdict::InOrder);
    EXPECT_EQ(t.observe(ev("a", 11, 5)), Verdict::Restarted);
}

TEST(StreamTracker, EndAfterAGapIsStillAGap) {
    StreamTracker t;
    feed_in_order(t, "a", 10, 2);
    EXPECT_EQ(t.observe(ev("a", 10, 5, Op::End)), Verdict::Gap);
}

TEST(StreamTracker, EventAfterEndInTheSameEpochClearsTheEnd) {
    // END must be the last thing seen for the next epoch to be trusted.
    StreamTracker t;
    feed_in_order(t, "a", 10, 1);
    EXPECT_EQ(t.observe(ev("a", 10, 2, Op::End)), Verdict::InOrder);
    EXPECT_EQ(t.observe(ev("a", 10, 3)), Verdict::InOrder);
    EXPECT_EQ(t.observe(ev("a", 11, 1)), Verdict::Restarted);
}

TEST(StreamTracker, RepeatedEndIsStale) {
    StreamTracker t;
    feed_in_order(t, "a", 10, 1);
    EXPECT_EQ(t.observe(ev("a", 10, 2, Op::End)), Verdict::InOrder);
    EXPECT_EQ(t.observe(ev("a", 10, 2, Op::End)), Verdict::Stale);
    EXPECT_EQ(t.observe(ev("a", 11, 1)), Verdict::InOrder);
}

TEST(StreamTracker, StreamsAreIndependent) {
    StreamTracker t;
    EXPECT_EQ(t.observe(ev("a", 10, 1)), Verdict::InOrder);
    EXPECT_EQ(t.observe(ev("b", 99, 1)), Verdict::InOrder);
    EXPECT_EQ(t.observe(ev("a", 10, 2)), Verdict::InOrder);
    EXPECT_EQ(t.observe(ev("b", 99, 2)), Verdict::InOrder);
    // A gap on b says nothing about a.
    EXPECT_EQ(t.observe(ev("b", 99, 7)), Verdict::Gap);
    EXPECT_EQ(t.observe(ev("a", 10, 3)), Verdict::InOrder);
    // Same epoch and seq on another stream is not a repeat.
    EXPECT_EQ(t.observe(ev("c", 10, 3)), Verdict::NewStream);
    EXPECT_EQ(t.streams(), 3u);
}

TEST(StreamTracker, VerdictNamesAndResyncNeeds) {
    EXPECT_STREQ(to_string(Verdict::InOrder), "in_order");
    EXPECT_STREQ(to_string(Verdict::Stale), "stale");
    EXPECT_STREQ(to_string(Verdict::Gap), "gap");
    EXPECT_STREQ(to_string(Verdict::NewStream), "new_stream");
    EXPECT_STREQ(to_string(Verdict::Restarted), "restarted");
    EXPECT_FALSE(needs_resync(Verdict::InOrder));
    EXPECT_FALSE(needs_resync(Verdict::Stale));
    EXPECT_TRUE(needs_resync(Verdict::Gap));
    EXPECT_TRUE(needs_resync(Verdict::NewStream));
    EXPECT_TRUE(needs_resync(Verdict::Restarted));
}

}  // namespace
}  // namespace revalidator::worker
