// EventQueue: stamping (stream, epoch, seq, receive time), the capacity bound, close, unpop and
// the END marker.
#include "event_queue.hpp"

#include <chrono>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "clock.hpp"

namespace revalidator::ingress {
namespace {

using std::chrono::milliseconds;
using Push = EventQueue::Push;

constexpr milliseconds kNoWait{0};

Push push(EventQueue& q, const std::string& pk, std::uint64_t received_us = 1000,
          Op op = Op::Update) {
    return q.push(op, "public", "articles", pk, received_us);
}

std::uint64_t pop_seq(EventQueue& q) {
    auto e = q.pop(kNoWait);
    EXPECT_TRUE(e.has_value());
    return e ? e->seq : 0;
}

TEST(EventQueue, StampsSequenceStreamEpochAndReceiveTime) {
    EventQueue q("ingress-a", 1700000000000000, 10);
    EXPECT_EQ(q.stream(), "ingress-a");
    EXPECT_EQ(q.epoch(), 1700000000000000u);
    EXPECT_EQ(q.last_seq(), 0u);

    EXPECT_EQ(q.push(Op::Insert, "public", "articles", "1", 111), Push::Queued);
    EXPECT_EQ(q.push(Op::Update, "public", "articles", "2", 222), Push::Queued);
    EXPECT_EQ(q.push(Op::Delete, "public", "articles", "abc", 333), Push::Queued);
    EXPECT_EQ(q.depth(), 3u);
    EXPECT_EQ(q.last_seq(), 3u);

    Event expected[] = {
        {"ingress-a", 1700000000000000, 1, 111, Op::Insert, "public", "articles", "1"},
        {"ingress-a", 1700000000000000, 2, 222, Op::Update, "public", "articles", "2"},
        {"ingress-a", 1700000000000000, 3, 333, Op::Delete, "public", "articles", "abc"},
    };
    for (const auto& want : expected) {
        auto got = q.pop(kNoWait);
        ASSERT_TRUE(got.has_value());
        EXPECT_EQ(*got, want);
    }
    EXPECT_EQ(q.depth(), 0u);
    EXPECT_FALSE(q.pop(kNoWait).has_value());
}

TEST(EventQueue, FullQueueRefusesButConsumesASequenceNumber) {
    EventQueue q("s", 1, 2);
    EXPECT_EQ(push(q, "1"), Push::Queued);  // seq 1
    EXPECT_EQ(push(q, "2"), Push::Queued);  // seq 2
    EXPECT_EQ(push(q, "3"), Push::Full);    // seq 3 is taken and lost
    EXPECT_EQ(q.depth(), 2u);
    EXPECT_EQ(q.last_seq(), 3u);

    EXPECT_EQ(pop_seq(q), 1u);
    EXPECT_EQ(push(q, "4"), Push::Queued);  // seq 4
    EXPECT_EQ(pop_seq(q), 2u);
    // The worker sees 2 then 4: the gap tells it that something was lost.
    auto next = q.pop(kNoWait);
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->seq, 4u);
    EXPECT_EQ(next->pk, "4");
}

TEST(EventQueue, ZeroCapacityRefusesEverything) {
    EventQueue q("s", 1, 0);
    EXPECT_EQ(push(q, "1"), Push::Full);
    EXPECT_EQ(push(q, "2"), Push::Full);
    EXPECT_EQ(q.depth(), 0u);
    EXPECT_EQ(q.last_seq(), 2u);
}

TEST(EventQueue, CloseRefusesButTakesANumberSoTheLossShows) {
    EventQueue q("s", 1, 10);
    EXPECT_EQ(push(q, "1"), Push::Queued);
    q.close();
    EXPECT_EQ(push(q, "2"), Push::Closed);
    EXPECT_EQ(q.last_seq(), 2u);
    EXPECT_EQ(q.marker(Op::End, "public", "articles").seq, 3u);
    EXPECT_EQ(q.depth(), 1u);
}

TEST(EventQueue, PopAfterCloseDrainsThenReturnsNulloptWithoutWaiting) {
    EventQueue q("s", 1, 10);
    push(q, "1");
    push(q, "2");
    q.close();
    // A long timeout: a closed queue must not wait for it.
    auto start = std::chrono::steady_clock::now();
    auto a = q.pop(std::chrono::minutes(1));
    auto b = q.pop(std::chrono::minutes(1));
    auto c = q.pop(std::chrono::minutes(1));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->seq, 1u);
    EXPECT_EQ(b->seq, 2u);
    EXPECT_FALSE(c.has_value());
}

TEST(EventQueue, PopOnEmptyOpenQueueTimesOut) {
    EventQueue q("s", 1, 10);
    EXPECT_FALSE(q.pop(kNoWait).has_value());
    EXPECT_FALSE(q.pop(milliseconds(1)).has_value());
}

TEST(EventQueue, PopWakesWhenAnotherThreadPushes) {
    EventQueue q("s", 1, 10);
    std::optional<Event> got;
    std::thread consumer([&] { got = q.pop(std::chrono::minutes(1)); });
    EXPECT_EQ(push(q, "7"), Push::Queued);
    consumer.join();
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->pk, "7");
    EXPECT_EQ(got->seq, 1u);
}

TEST(EventQueue, CloseWakesAWaitingPop) {
    EventQueue q("s", 1, 10);
    std::optional<Event> got{Event{}};
    auto start = std::chrono::steady_clock::now();
    std::thread consumer([&] { got = q.pop(std::chrono::minutes(1)); });
    q.close();
    consumer.join();
    EXPECT_FALSE(got.has_value());
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(EventQueue, UnpopKeepsOrder) {
    EventQueue q("s", 1, 10);
    push(q, "1");
    push(q, "2");
    push(q, "3");
    auto e1 = q.pop(kNoWait);
    auto e2 = q.pop(kNoWait);
    ASSERT_TRUE(e1 && e2);
    // Sending failed: put them back, last taken first.
    q.unpop(*e2);
    q.unpop(*e1);
    EXPECT_EQ(q.depth(), 3u);
    EXPECT_EQ(pop_seq(q), 1u);
    EXPECT_EQ(pop_seq(q), 2u);
    EXPECT_EQ(pop_seq(q), 3u);
    // Unpop does not renumber.
    EXPECT_EQ(q.last_seq(), 3u);
}

TEST(EventQueue, UnpopAfterCloseIsStillDrained) {
    EventQueue q("s", 1, 10);
    push(q, "1");
    auto e = q.pop(kNoWait);
    ASSERT_TRUE(e.has_value());
    q.close();
    q.unpop(*e);
    EXPECT_EQ(pop_seq(q), 1u);
    EXPECT_FALSE(q.pop(kNoWait).has_value());
}

TEST(EventQueue, EndMarkerTakesTheNextNumber) {
    EventQueue q("ingress-b", 42, 10);
    push(q, "1");
    push(q, "2");
    q.close();
    std::uint64_t before = unix_micros();
    Event end = q.marker(Op::End, "public", "articles");
    std::uint64_t after = unix_micros();
    EXPECT_EQ(end.stream, "ingress-b");
    EXPECT_EQ(end.epoch, 42u);
    EXPECT_EQ(end.seq, 3u);
    EXPECT_EQ(end.op, Op::End);
    EXPECT_EQ(end.pk, "");
    EXPECT_EQ(end.schema, "public");
    EXPECT_EQ(end.table, "articles");
    EXPECT_GE(end.received_us, before);
    EXPECT_LE(end.received_us, after);
    EXPECT_EQ(q.last_seq(), 3u);
    // The marker is returned, not queued.
    EXPECT_EQ(q.depth(), 2u);
}

TEST(EventQueue, EndMarkerFollowsALostEvent) {
    EventQueue q("s", 1, 1);
    push(q, "1");                         // seq 1
    EXPECT_EQ(push(q, "2"), Push::Full);  // seq 2, lost
    EXPECT_EQ(q.marker(Op::End, "public", "articles").seq, 3u);
    EXPECT_EQ(push(q, "3"), Push::Full);  // seq 4
    EXPECT_EQ(q.last_seq(), 4u);
}

TEST(EventQueue, TakeTakesWhatIsWaitingInOrderUpToMax) {
    EventQueue q("s", 1, 10);
    for (const char* pk : {"a", "b", "c"}) ASSERT_EQ(push(q, pk), Push::Queued);
    auto first = q.take(2, kNoWait);
    ASSERT_EQ(first.size(), 2u);
    EXPECT_EQ(first[0].pk, "a");
    EXPECT_EQ(first[1].pk, "b");
    auto rest = q.take(10, kNoWait);
    ASSERT_EQ(rest.size(), 1u);
    EXPECT_EQ(rest[0].seq, first[1].seq + 1);
    EXPECT_TRUE(q.take(10, milliseconds(1)).empty());
}

TEST(EventQueue, TakeWakesForAPushIntoAnEmptyQueue) {
    EventQueue q("s", 1, 10);
    std::vector<Event> got;
    std::thread consumer([&] { got = q.take(10, std::chrono::minutes(1)); });
    ASSERT_EQ(push(q, "a"), Push::Queued);
    consumer.join();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].pk, "a");
}

}  // namespace
}  // namespace revalidator::ingress
