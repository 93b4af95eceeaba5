// EventQueue: stamping (stream, epoch, seq, receive time), the capacity bound, close, unpop and
// the markers, which never overtake an event on the way to the worker.
#include "event_queue.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/clock.hpp"
#include "stream_tracker.hpp"

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
    EXPECT_EQ(pop_seq(q), 1u);
    auto end = q.marker(Op::End, "public", "articles");
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(end->seq, 3u);
}

// A read's fill is a hint: refused while draining or full, it must not leave a gap, which would
// make the worker resync the whole table.
TEST(EventQueue, ARefusedFillTakesNoNumberSoTheWorkerSeesNoGap) {
    EventQueue q("s", 1, 2);
    worker::StreamTracker t;
    EXPECT_EQ(q.fill("public", "articles", "5", 1000), Push::Queued);
    EXPECT_EQ(push(q, "6"), Push::Queued);
    EXPECT_EQ(q.fill("public", "articles", "7", 1000), Push::Full);
    EXPECT_EQ(q.last_seq(), 2u);
    auto filled = q.pop(kNoWait);
    ASSERT_TRUE(filled.has_value());
    EXPECT_EQ(filled->op, Op::Update);
    EXPECT_EQ(filled->pk, "5");
    EXPECT_EQ(t.observe(*filled), worker::Verdict::InOrder);
    auto next = q.pop(kNoWait);
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(t.observe(*next), worker::Verdict::InOrder);

    q.close();
    EXPECT_EQ(q.fill("public", "articles", "5", 1000), Push::Closed);
    auto end = q.marker(Op::End, "public", "articles");
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(end->seq, 3u);
    EXPECT_EQ(t.observe(*end), worker::Verdict::InOrder);
}

TEST(EventQueue, PopAfterCloseStillReturnsWhatIsLeft) {
    EventQueue q("s", 1, 10);
    push(q, "1");
    push(q, "2");
    q.close();
    EXPECT_EQ(pop_seq(q), 1u);
    EXPECT_EQ(pop_seq(q), 2u);
    EXPECT_FALSE(q.pop(kNoWait).has_value());
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

// A drain that ran out of time: the END after the dropped events shows the worker their numbers.
TEST(EventQueue, DiscardDropsWhatIsLeftAndTheEndShowsTheGap) {
    EventQueue q("s", 1, 10);
    push(q, "1");
    push(q, "2");
    push(q, "3");
    EXPECT_EQ(pop_seq(q), 1u);
    q.close();
    EXPECT_EQ(q.discard(), 2u);
    EXPECT_EQ(q.depth(), 0u);
    auto end = q.marker(Op::End, "public", "articles");
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(end->seq, 4u);
    worker::StreamTracker t;
    Event first{"s", 1, 1, 1, Op::Update, "public", "articles", "1"};
    EXPECT_EQ(t.observe(first), worker::Verdict::InOrder);
    EXPECT_TRUE(worker::needs_resync(t.observe(*end)));
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
    EXPECT_EQ(q.take(10, kNoWait).size(), 2u);
    std::uint64_t before = unix_micros();
    auto marker = q.marker(Op::End, "public", "articles");
    std::uint64_t after = unix_micros();
    ASSERT_TRUE(marker.has_value());
    const Event& end = *marker;
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
    EXPECT_EQ(q.depth(), 0u);
}

TEST(EventQueue, EndMarkerFollowsALostEvent) {
    EventQueue q("s", 1, 1);
    push(q, "1");                         // seq 1
    EXPECT_EQ(push(q, "2"), Push::Full);  // seq 2, lost
    EXPECT_EQ(pop_seq(q), 1u);
    auto end = q.marker(Op::End, "public", "articles");
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(end->seq, 3u);
    EXPECT_EQ(push(q, "3"), Push::Queued);  // seq 4
    EXPECT_EQ(q.last_seq(), 4u);
}

TEST(EventQueue, NoMarkerWhileEventsWait) {
    EventQueue q("s", 1, 10);
    push(q, "1");
    EXPECT_FALSE(q.marker(Op::Heartbeat, "public", "articles").has_value());
    EXPECT_EQ(q.last_seq(), 1u) << "a refused marker takes no number";
    EXPECT_EQ(pop_seq(q), 1u);
    auto heartbeat = q.marker(Op::Heartbeat, "public", "articles");
    ASSERT_TRUE(heartbeat.has_value());
    EXPECT_EQ(heartbeat->seq, 2u);
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

// The publisher's step, as publisher.cpp takes it: what is waiting, or when nothing is, a
// heartbeat. What it "sends" goes through the worker's stream rules, which must see no loss.
class Publisher {
  public:
    explicit Publisher(EventQueue& q) : q_(q) {}

    // One round: events from `fail_at` on are not sent and go back to the queue.
    // `after_empty_take` runs where an HTTP thread may push after the queue was found empty.
    void round(std::size_t fail_at = SIZE_MAX, const std::function<void()>& after_empty_take = {}) {
        std::vector<Event> events = q_.take(64, kNoWait);
        if (events.empty()) {
            if (after_empty_take) after_empty_take();
            auto heartbeat = q_.marker(Op::Heartbeat, "public", "articles");
            if (!heartbeat) return;
            events.push_back(std::move(*heartbeat));
        }
        for (std::size_t i = 0; i < events.size(); ++i) {
            if (i >= fail_at) {
                for (std::size_t j = events.size(); j-- > i;) q_.unpop(std::move(events[j]));
                return;
            }
            send(events[i]);
        }
    }
    std::size_t out_of_order() const { return out_of_order_; }
    std::size_t events() const { return events_; }

  private:
    void send(const Event& e) {
        if (tracker_.observe(e) != worker::Verdict::InOrder) ++out_of_order_;
        if (!is_marker(e.op)) ++events_;
    }

    EventQueue& q_;
    worker::StreamTracker tracker_;
    std::size_t out_of_order_ = 0;
    std::size_t events_ = 0;
};

TEST(EventQueue, HeartbeatCannotOvertakeAnEventQueuedAfterAnEmptyTake) {
    EventQueue q("s", 1, 10);
    Publisher p(q);
    p.round(SIZE_MAX, [&] { ASSERT_EQ(push(q, "a"), Push::Queued); });
    p.round();
    p.round();
    EXPECT_EQ(p.out_of_order(), 0u);
    EXPECT_EQ(p.events(), 1u);
}

TEST(EventQueue, HeartbeatPutBackStaysInOrder) {
    EventQueue q("s", 1, 10);
    Publisher p(q);
    p.round(0, [&] { ASSERT_EQ(push(q, "a"), Push::Queued); });
    p.round();
    p.round(0);  // an idle stream's heartbeat, not sent: it goes back
    ASSERT_EQ(push(q, "b"), Push::Queued);
    p.round();
    p.round();
    EXPECT_EQ(p.out_of_order(), 0u);
    EXPECT_EQ(p.events(), 2u);
}

// HTTP threads push while the publisher sends, heartbeats whenever the queue looks empty, and now
// and then fails to send and puts events back. The worker must never see a gap.
TEST(EventQueue, ConcurrentPushesAndHeartbeatsReachTheWorkerInOrder) {
    constexpr int kThreads = 2;
    constexpr int kPerThread = 5'000;
    EventQueue q("s", 1, kThreads * kPerThread);
    Publisher p(q);
    std::atomic<int> pushing{kThreads};
    std::vector<std::thread> http;
    for (int t = 0; t < kThreads; ++t) {
        http.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                push(q, std::to_string(t) + "-" + std::to_string(i));
                std::this_thread::yield();  // so that the publisher often finds the queue empty
            }
            --pushing;
        });
    }
    std::size_t rounds = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while ((pushing > 0 || q.depth() > 0) && std::chrono::steady_clock::now() < deadline) {
        // After an empty take, the publisher thread lets the others run, as it may be descheduled.
        p.round(++rounds % 7 == 0 ? rounds % 3 : SIZE_MAX, [] { std::this_thread::yield(); });
    }
    for (auto& t : http) t.join();
    while (q.depth() > 0) p.round();
    EXPECT_EQ(p.events(), static_cast<std::size_t>(kThreads * kPerThread));
    EXPECT_EQ(p.out_of_order(), 0u);
}

}  // namespace
}  // namespace revalidator::ingress
