// The canary's logic on a virtual clock, with a fake store playing Postgres: beats are written
// only while active, each measured once from its `at` to the moment it was seen, a lost beat
// measured when a later one is seen, and silence judged, logged and counted once per transition.
#include "canary.hpp"

#include <gtest/gtest.h>

#include "worker_fakes.hpp"

namespace revalidator::worker {
namespace {

using namespace std::chrono_literals;

class FakeStore : public CanaryStore {
  public:
    explicit FakeStore(const double& now) : now_(now) {}
    Result<CanaryBeat, std::string> write() override {
        if (down) return Err(std::string("down"));
        return CanaryBeat{++beat, now_};
    }
    Result<std::int64_t, std::string> read() override {
        if (down) return Err(std::string("down"));
        return beat;
    }
    std::int64_t beat = 0;
    bool down = false;

  private:
    const double& now_;
};

class CanaryTest : public ::testing::Test {
  protected:
    double now = 1000;
    bool active = true;
    FakeStore store{now};
    metrics::Registry registry;
    Canary canary{store,
                  {.name = "articles", .interval = 1000ms, .silent_after = 3},
                  [this] { return active; },
                  registry,
                  [this] { return now; }};

    double metric(const std::string& series) const {
        return fakes::metric(registry.render(), series).value_or(-1);
    }
};

TEST_F(CanaryTest, EachBeatIsMeasuredFromItsCommitToTheMomentItIsSeen) {
    canary.tick();
    EXPECT_EQ(store.beat, 1) << "the first beat is written at once";
    now += 0.25;
    canary.arrived();
    canary.tick();
    EXPECT_EQ(metric("revalidator_canary_beats_seen_total"), 1);
    EXPECT_NEAR(metric("revalidator_canary_staleness_seconds_sum"), 0.25, 1e-6);
    EXPECT_EQ(metric("revalidator_canary_last_seen_timestamp_seconds"), 1000.25);
    EXPECT_EQ(metric("revalidator_canary_interval_seconds"), 1);

    canary.arrived();  // a duplicate: nothing is left to measure
    canary.tick();
    EXPECT_EQ(metric("revalidator_canary_beats_seen_total"), 1);
    EXPECT_EQ(store.beat, 1) << "the next beat is due a second after the first";
}

TEST_F(CanaryTest, ALostBeatIsMeasuredWhenALaterOneIsSeen) {
    canary.tick();  // beat 1 at 1000, its webhook lost
    now += 1;
    canary.tick();  // beat 2 at 1001
    now += 0.5;
    canary.arrived();
    canary.tick();
    EXPECT_EQ(metric("revalidator_canary_beats_seen_total"), 2);
    EXPECT_NEAR(metric("revalidator_canary_staleness_seconds_sum"), 2.0, 1e-6);
}

TEST_F(CanaryTest, SilenceIsJudgedAfterTheBoundAndCountedOncePerTransition) {
    canary.tick();
    for (int i = 0; i < 3; ++i) {
        now += 1;
        canary.tick();
        EXPECT_FALSE(canary.silent()) << "silent only past 3 intervals, at " << i;
    }
    now += 0.5;
    canary.tick();
    EXPECT_TRUE(canary.silent());
    EXPECT_EQ(canary.detail()["silent"], true);
    EXPECT_EQ(canary.detail()["collection"], "articles");
    now += 1;
    canary.tick();
    EXPECT_EQ(metric("revalidator_canary_silent_total"), 1) << "counted once";
    EXPECT_EQ(metric("revalidator_canary_silent"), 1);

    canary.arrived();
    canary.tick();
    EXPECT_FALSE(canary.silent()) << "a beat seen ends the silence";
    EXPECT_EQ(metric("revalidator_canary_silent_total"), 1);
}

TEST_F(CanaryTest, OnlyTheActiveWorkerBeatsAndTakingOverStartsAfresh) {
    active = false;
    canary.tick();
    EXPECT_EQ(store.beat, 0);
    EXPECT_EQ(metric("revalidator_canary_interval_seconds"), 0);
    EXPECT_EQ(metric("revalidator_canary_last_seen_timestamp_seconds"), 0);
    EXPECT_EQ(canary.detail()["beating"], false);

    now += 100;
    active = true;
    canary.tick();
    EXPECT_EQ(store.beat, 1);
    EXPECT_FALSE(canary.silent()) << "the silence is counted from the start as active worker";
    EXPECT_EQ(metric("revalidator_canary_last_seen_timestamp_seconds"), 1100);
}

TEST_F(CanaryTest, APostgresThatDoesNotAnswerIsCountedAndTheBeatMeasuredLater) {
    canary.tick();
    store.down = true;
    now += 0.1;
    canary.arrived();
    canary.tick();
    EXPECT_EQ(metric("revalidator_canary_errors_total"), 1);
    EXPECT_EQ(metric("revalidator_canary_beats_seen_total"), 0);
    store.down = false;
    now += 0.1;
    canary.tick();
    EXPECT_EQ(metric("revalidator_canary_beats_seen_total"), 1) << "owed from the failed read";
    EXPECT_NEAR(metric("revalidator_canary_staleness_seconds_sum"), 0.2, 1e-6);
}

TEST_F(CanaryTest, StopEndsTheThreadPromptly) {
    canary.start();
    const auto start = std::chrono::steady_clock::now();
    canary.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 900ms) << "not a whole interval";
}

}  // namespace
}  // namespace revalidator::worker
