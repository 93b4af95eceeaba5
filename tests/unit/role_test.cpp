// Role: standby, takeover, active and back, driven with fakes for the lease, the inbox and the stop
// signal, and the real BatchLoop over the in-memory source and sink. Time is virtual: it passes
// only in the stop signal's wait_for, so delays are checked exactly and nothing sleeps. A test's
// script runs at each receive (while active) and at each try to take the lease (while standby).
#include "role.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "worker_fakes.hpp"

namespace revalidator::worker {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

class FakeStop : public StopSignal {
  public:
    milliseconds now{0};
    std::vector<milliseconds> waits;
    bool stop = false;
    std::optional<milliseconds> stop_at;  // a stop is requested when virtual time reaches this

    bool requested() const override { return stop; }
    bool wait_for(milliseconds d) override {
        if (stop) return true;
        waits.push_back(d);
        if (stop_at && now + d >= *stop_at) {
            now = *stop_at;
            stop = true;
        } else {
            now += d;
        }
        return stop;
    }
};

class FakeLease : public TableLease {
  public:
    explicit FakeLease(const FakeStop& clock) : clock_(clock) {}

    int refusals = 0;  // how many more tries fail before one takes the lease
    bool is_held = false;
    bool repair = false;  // a repair request waiting to be taken
    int releases = 0;
    std::vector<milliseconds> acquired_at;
    std::function<void()> on_try = [] {};

    bool try_acquire() override {
        on_try();
        if (is_held) return true;
        if (refusals > 0) {
            --refusals;
            return false;
        }
        is_held = true;
        acquired_at.push_back(clock_.now);
        return true;
    }
    bool held() const override { return is_held; }
    void release() override {
        is_held = false;
        ++releases;
    }
    bool take_repair_request() override { return std::exchange(repair, false); }

  private:
    const FakeStop& clock_;
};

// What the inboxes saw, shared by every inbox the role binds.
struct InboxLog {
    int receives = 0;
    int bound = 0;  // inboxes bound and not yet destroyed
    std::vector<milliseconds> bound_at;
    std::vector<int> bound_while;  // inboxes still bound when the next one was bound
    std::vector<std::pair<std::size_t, milliseconds>> asked;  // max and timeout of each receive
    std::function<void(int)> on_receive = [](int) {};
};

class FakeInbox : public Inbox {
  public:
    explicit FakeInbox(InboxLog& log) : log_(log) { ++log_.bound; }
    ~FakeInbox() override { --log_.bound; }

    std::vector<std::string> receive(std::size_t max, milliseconds timeout) override {
        log_.asked.emplace_back(max, timeout);
        log_.on_receive(++log_.receives);
        return {};
    }

  private:
    InboxLog& log_;
};

class RoleTest : public ::testing::Test {
  protected:
    FakeStop stop;
    FakeLease lease{stop};
    InboxLog inbox;
    std::optional<std::string> bind_error;  // set: binding throws this
    int bind_tries = 0;
    fakes::FakeSource source;
    fakes::FakeSink sink;
    metrics::Registry registry;
    RoleConfig cfg{.table = "public.articles",
                   .bind = "tcp://127.0.0.1:5555",
                   .max_batch = 64,
                   .takeover_delay = 1000ms,
                   .lease_poll = 500ms,
                   .max_receive_wait = 200ms};

    // Built on first use, so that a test can change cfg first.
    Role& role() {
        if (!role_) {
            applier_ = std::make_unique<Applier>(source, sink, fakes::default_applier(), registry);
            loop_ = std::make_unique<BatchLoop>(*applier_, fakes::quick_loop(), registry);
            role_ = std::make_unique<Role>(
                lease, [this] { return bind(); }, *loop_, stop, cfg, registry);
        }
        return *role_;
    }

    // Runs the role; a script that never stops it fails the test instead of hanging it.
    int run() {
        auto script = inbox.on_receive;
        inbox.on_receive = [this, script](int n) {
            script(n);
            if (n > 1000) {
                ADD_FAILURE() << "the role never left the active state";
                stop.stop = true;
            }
        };
        return role().run();
    }

    double active_gauge() const {
        return fakes::metric(registry.render(), "revalidator_worker_active").value_or(-1);
    }

    int full_reads() const {
        int n = 0;
        for (const auto& c : source.calls) n += c.full;
        return n;
    }

  private:
    std::unique_ptr<Inbox> bind() {
        ++bind_tries;
        if (bind_error) throw std::runtime_error(*bind_error);
        inbox.bound_at.push_back(stop.now);
        inbox.bound_while.push_back(inbox.bound);
        return std::make_unique<FakeInbox>(inbox);
    }

    std::unique_ptr<Applier> applier_;
    std::unique_ptr<BatchLoop> loop_;
    std::unique_ptr<Role> role_;
};

TEST_F(RoleTest, ActiveWhileTheLeaseIsHeldThenStandbyUntilItIsTakenAgain) {
    std::vector<bool> active_at_try, active_at_receive;
    std::vector<double> gauge_at_try, gauge_at_receive;
    lease.on_try = [&] {
        active_at_try.push_back(role().active());
        gauge_at_try.push_back(active_gauge());
    };
    inbox.on_receive = [&](int n) {
        active_at_receive.push_back(role().active());
        gauge_at_receive.push_back(active_gauge());
        if (n == 3) {
            lease.is_held = false;  // lost: another worker may take it
            lease.refusals = 2;
        }
        if (n == 5) stop.stop = true;
    };

    EXPECT_EQ(run(), 0);

    EXPECT_EQ(lease.acquired_at.size(), 2u);
    ASSERT_EQ(inbox.bound_at.size(), 2u);
    EXPECT_EQ(inbox.bound_while, (std::vector<int>{0, 0}));  // unbound before binding again
    EXPECT_EQ(inbox.bound, 0);
    EXPECT_EQ(active_at_try, (std::vector<bool>{false, false, false, false}));
    EXPECT_EQ(gauge_at_try, (std::vector<double>{0, 0, 0, 0}));
    EXPECT_EQ(active_at_receive, (std::vector<bool>{true, true, true, true, true}));
    EXPECT_EQ(gauge_at_receive, (std::vector<double>{1, 1, 1, 1, 1}));
    // Standby again: it polled twice before the lease was free, then waited the delay again.
    EXPECT_EQ(inbox.bound_at[1] - inbox.bound_at[0], 500ms + 500ms + 1000ms);
    EXPECT_FALSE(role().active());
    EXPECT_EQ(active_gauge(), 0);
    EXPECT_EQ(lease.releases, 1);
}

TEST_F(RoleTest, TheTakeoverDelayPassesBetweenTakingTheLeaseAndBinding) {
    lease.refusals = 3;
    inbox.on_receive = [&](int) { stop.stop = true; };

    EXPECT_EQ(run(), 0);

    EXPECT_EQ(stop.waits, (std::vector<milliseconds>{500ms, 500ms, 500ms, 1000ms}));
    ASSERT_EQ(lease.acquired_at, (std::vector<milliseconds>{1500ms}));
    EXPECT_EQ(inbox.bound_at, (std::vector<milliseconds>{2500ms}));
}

TEST_F(RoleTest, NoTakeoverDelayBindsAtOnce) {
    cfg.takeover_delay = 0ms;
    inbox.on_receive = [&](int) { stop.stop = true; };

    EXPECT_EQ(run(), 0);

    EXPECT_EQ(inbox.bound_at, (std::vector<milliseconds>{0ms}));
}

TEST_F(RoleTest, AStopDuringTheTakeoverDelayBindsNothingAndReleasesTheLease) {
    stop.stop_at = 700ms;

    EXPECT_EQ(run(), 0);

    EXPECT_EQ(lease.acquired_at, (std::vector<milliseconds>{0ms}));
    EXPECT_EQ(bind_tries, 0);
    EXPECT_EQ(stop.now, 700ms);
    EXPECT_EQ(lease.releases, 1);
    EXPECT_FALSE(lease.is_held);
    EXPECT_EQ(full_reads(), 0);
}

TEST_F(RoleTest, AStopDuringStandbyReleasesTheLease) {
    lease.refusals = 1'000'000;
    stop.stop_at = 1200ms;

    EXPECT_EQ(run(), 0);

    EXPECT_EQ(stop.waits, (std::vector<milliseconds>{500ms, 500ms, 500ms}));
    EXPECT_EQ(stop.now, 1200ms);
    EXPECT_EQ(bind_tries, 0);
    EXPECT_EQ(lease.releases, 1);
}

TEST_F(RoleTest, AStopWhileActiveUnbindsAndReleasesTheLease) {
    inbox.on_receive = [&](int n) {
        if (n == 2) stop.stop = true;
    };

    EXPECT_EQ(run(), 0);

    EXPECT_EQ(inbox.receives, 2);
    EXPECT_EQ(inbox.bound, 0);
    EXPECT_EQ(lease.releases, 1);
    EXPECT_FALSE(lease.is_held);
    EXPECT_FALSE(role().active());
    EXPECT_EQ(active_gauge(), 0);
}

TEST_F(RoleTest, BecomingActiveResyncsOnce) {
    source.put(1, "one");
    inbox.on_receive = [&](int n) {
        if (n == 4) stop.stop = true;
    };

    EXPECT_EQ(run(), 0);

    EXPECT_EQ(full_reads(), 1);
    EXPECT_EQ(sink.at("/articles/1"), fakes::int_row(1, "one"));
}

TEST_F(RoleTest, ARepairRequestFromAnotherWorkerResyncs) {
    inbox.on_receive = [&](int n) {
        if (n == 3) lease.repair = true;
        if (n == 6) stop.stop = true;
    };

    EXPECT_EQ(run(), 0);

    EXPECT_EQ(full_reads(), 2);  // on becoming active, and for the repair
    EXPECT_FALSE(lease.repair);
}

TEST_F(RoleTest, ReceivesAreBoundedSoTheLoopStepsOften) {
    inbox.on_receive = [&](int n) {
        if (n == 3) stop.stop = true;
    };

    EXPECT_EQ(run(), 0);

    // The first receive only takes what is waiting: the resync is due at once. Then the loop has
    // nothing owed, so it would wait 500 ms; the cap keeps lease checks and repairs prompt.
    using Asked = std::pair<std::size_t, milliseconds>;
    EXPECT_EQ(inbox.asked, (std::vector<Asked>{{64, 0ms}, {64, 200ms}, {64, 200ms}}));
}

TEST_F(RoleTest, ABindFailureExitsWithOneAndReleasesTheLease) {
    bind_error = "Address already in use";

    EXPECT_EQ(run(), 1);

    EXPECT_EQ(bind_tries, 1);
    EXPECT_EQ(lease.releases, 1);
    EXPECT_FALSE(lease.is_held);
    EXPECT_FALSE(role().active());
    EXPECT_EQ(active_gauge(), 0);
    EXPECT_EQ(full_reads(), 0);
}

}  // namespace
}  // namespace revalidator::worker
