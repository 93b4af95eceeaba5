// Single flight (ingress/reads/single_flight.hpp): callers that overlap share one run, and only a
// run that started after they arrived; callers that do not overlap each run the work; a failure
// reaches every caller that shared the run.
#include "reads/single_flight.hpp"

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace revalidator::ingress {
namespace {

using namespace std::chrono_literals;

// A storm: the first caller runs, the others arrive while it runs and share the one next run.
TEST(SingleFlight, AStormOfCallersMakesTwoRunsAtMost) {
    SingleFlight<int> flights;
    std::promise<void> open;
    auto gate = open.get_future().share();
    std::atomic<int> runs{0}, joined{0};
    constexpr int kCallers = 8;
    std::vector<int> results(kCallers);
    std::vector<std::thread> callers;
    for (int i = 0; i < kCallers; ++i) {
        callers.emplace_back([&, i] {
            results[i] = flights.run(
                "k",
                [&] {
                    ++runs;
                    gate.wait();
                    return 42;
                },
                [&] { ++joined; });
        });
    }
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (flights.waiting() < kCallers - 1 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
    }
    open.set_value();
    for (auto& t : callers) t.join();
    EXPECT_EQ(runs, 2);
    EXPECT_EQ(joined, kCallers - 2) << "all but the two runs' leaders joined";
    EXPECT_EQ(results, std::vector<int>(kCallers, 42));
    EXPECT_EQ(flights.in_flight(), 0u) << "nothing is kept after the run";
}

// Polls `done` for up to 10 s (a condition, not a timing assertion).
template <class Done>
bool eventually(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::yield();
    }
    return true;
}

// A read in flight may have read before a caller arrived (the row since deleted): that caller
// gets a read that started after it arrived, never the one in flight.
TEST(SingleFlight, ACallerNeverSharesARunThatStartedBeforeItArrived) {
    SingleFlight<int> flights;
    std::promise<void> first_may_end;
    auto gate = first_may_end.get_future().share();
    std::atomic<int> runs{0};
    std::atomic<bool> first_started{false};
    // Each run returns its number: run 1 is the one in flight when the late callers come.
    auto work = [&] {
        const int n = ++runs;
        if (n == 1) {
            first_started = true;
            gate.wait();
        }
        return n;
    };
    int first = 0;
    std::thread a([&] { first = flights.run("k", work, [] {}); });
    ASSERT_TRUE(eventually([&] { return first_started.load(); }));

    constexpr int kLate = 6;
    std::vector<int> late(kLate);
    std::vector<std::thread> callers;
    for (int i = 0; i < kLate; ++i) {
        callers.emplace_back([&, i] { late[i] = flights.run("k", work, [] {}); });
    }
    ASSERT_TRUE(eventually([&] { return flights.waiting() == kLate; }));
    EXPECT_EQ(runs, 1) << "no second run while the first is in flight";
    first_may_end.set_value();
    a.join();
    for (auto& t : callers) t.join();
    EXPECT_EQ(first, 1);
    EXPECT_EQ(late, std::vector<int>(kLate, 2)) << "every late caller shares the next run";
    EXPECT_EQ(runs, 2) << "a storm still collapses: one run in flight, one queued";
    EXPECT_EQ(flights.in_flight(), 0u);
    EXPECT_EQ(flights.waiting(), 0u);
}

// The queued run's callers and a failure: the exception reaches each of them, and the key is
// free afterwards.
TEST(SingleFlight, AFailedQueuedRunReachesEveryCallerThatWaitedForIt) {
    SingleFlight<int> flights;
    std::promise<void> first_may_end;
    auto gate = first_may_end.get_future().share();
    std::atomic<int> runs{0};
    std::atomic<bool> first_started{false};
    auto work = [&]() -> int {
        if (++runs == 1) {
            first_started = true;
            gate.wait();
            return 1;
        }
        throw std::runtime_error("down");
    };
    std::thread a([&] { EXPECT_EQ(flights.run("k", work, [] {}), 1); });
    ASSERT_TRUE(eventually([&] { return first_started.load(); }));
    std::atomic<int> failed{0};
    std::vector<std::thread> callers;
    for (int i = 0; i < 3; ++i) {
        callers.emplace_back([&] {
            try {
                flights.run("k", work, [] {});
            } catch (const std::runtime_error&) {
                ++failed;
            }
        });
    }
    ASSERT_TRUE(eventually([&] { return flights.waiting() == 3; }));
    first_may_end.set_value();
    a.join();
    for (auto& t : callers) t.join();
    EXPECT_EQ(failed, 3);
    EXPECT_EQ(runs, 2);
    EXPECT_EQ(flights.in_flight(), 0u);
    EXPECT_EQ(flights.run(
                  "k", [] { return 7; }, [] {}),
              7);
}

TEST(SingleFlight, CallersThatDoNotOverlapEachRunTheWork) {
    SingleFlight<int> flights;
    int runs = 0;
    EXPECT_EQ(flights.run(
                  "k", [&] { return ++runs; }, [] {}),
              1);
    EXPECT_EQ(flights.run(
                  "k", [&] { return ++runs; }, [] {}),
              2);
    EXPECT_EQ(flights.run(
                  "other", [&] { return ++runs; }, [] {}),
              3);
}

TEST(SingleFlight, AFailureReachesTheCallerAndTheNextCallRunsAgain) {
    SingleFlight<int> flights;
    EXPECT_THROW(flights.run(
                     "k", []() -> int { throw std::runtime_error("down"); }, [] {}),
                 std::runtime_error);
    EXPECT_EQ(flights.in_flight(), 0u);
    EXPECT_EQ(flights.run(
                  "k", [] { return 7; }, [] {}),
              7);
}

}  // namespace
}  // namespace revalidator::ingress
