// Single flight (ingress/single_flight.hpp): callers that overlap share one run; callers that do
// not overlap each run the work; a failure reaches every caller that shared the run.
#include "single_flight.hpp"

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

TEST(SingleFlight, OverlappingCallersShareOneRun) {
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
    while (joined < kCallers - 1 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
    }
    open.set_value();
    for (auto& t : callers) t.join();
    EXPECT_EQ(runs, 1);
    EXPECT_EQ(joined, kCallers - 1);
    EXPECT_EQ(results, std::vector<int>(kCallers, 42));
    EXPECT_EQ(flights.in_flight(), 0u) << "nothing is kept after the run";
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
