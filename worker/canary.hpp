// The canary (docs/operations.md, "The canary"): while this worker is its table's active worker,
// it writes a beat to its collection's row of revalidator.canary every interval, with
// at = clock_timestamp(). The row's webhook travels the real path (Postgres, the sender, an
// ingress, this worker's inbox); once the batch loop has written everything owed up to the
// beat's event (arrived()), the canary reads the row's beat, as a batch reads a row, and each beat
// written up to it is visible: its commit -> visible time is now - at (Postgres's clock at the
// write, this host's now). Beats whose webhook never came are measured when a later one's is seen,
// since that is when the cache caught up with them.
// The feed is silent while no beat has been seen for more than `silent_after` intervals (counted
// from the canary's start as active worker): logged once as it starts and once as it ends, and
// counted. Silence is reported (readiness detail, metrics), never a reason to be unready: the
// repair pass still heals the table, and the operator is alerted.
// Logic over CanaryStore and a clock, so the unit tests drive it on a virtual clock; start() runs
// it on a thread of its own, which stop() (or the destructor) ends and joins, after at most one
// store call, whose time the store bounds.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "runtime/metrics.hpp"
#include "runtime/result.hpp"

namespace revalidator::worker {

struct CanaryBeat {
    std::int64_t beat = 0;
    double at = 0;  // unix seconds, Postgres's clock_timestamp() at the write
};

// What the canary needs of Postgres: a connection that may write. Every call is bounded in time.
class CanaryStore {
  public:
    virtual ~CanaryStore() = default;
    // Writes the row's next beat with at = clock_timestamp(), committed when it returns.
    virtual Result<CanaryBeat, std::string> write() = 0;
    // The beat the row holds now.
    virtual Result<std::int64_t, std::string> read() = 0;
};

struct CanaryConfig {
    std::string name;  // the row's key and the series' collection label
    std::chrono::milliseconds interval{1000};
    int silent_after = 3;  // intervals without a beat seen
};

class Canary {
  public:
    using UnixClock = std::function<double()>;  // unix seconds
    // `active`: whether this worker holds the table's lease (Role::active). Registers its series
    // in `registry` with the label collection=<name>.
    Canary(CanaryStore& store, CanaryConfig cfg, std::function<bool()> active,
           metrics::Registry& registry, UnixClock clock = {});
    ~Canary();
    Canary(const Canary&) = delete;
    Canary& operator=(const Canary&) = delete;

    // Thread-safe, from the batch loop: a beat's event arrived and the cache has every event
    // received before it. Wakes the canary's thread.
    void arrived();
    // One round: start or end with the role, measure an arrived beat, write one when due, judge
    // the silence. Returns how long to wait before the next round.
    std::chrono::milliseconds tick();

    void start();
    void stop();

    // Thread-safe: the readiness detail (interval, last seen, silent).
    nlohmann::json detail() const;
    bool silent() const { return silent_; }

  private:
    void measure(double now);
    void beat(double now);
    void judge(double now);
    double silent_after_s() const { return cfg_.silent_after * interval_s_; }
    // A failure of the store is logged when it starts and when it ends, not every round.
    void failed(const std::string& what, const std::string& error);
    void recovered();

    CanaryStore& store_;
    CanaryConfig cfg_;
    std::function<bool()> active_;
    UnixClock clock_;
    double interval_s_;

    bool beating_ = false;           // active, as of the last round
    double next_beat_ = 0;           // unix seconds
    std::deque<CanaryBeat> unseen_;  // written, not yet seen; oldest first
    bool failing_ = false;
    bool measure_owed_ = false;  // an arrived beat whose read failed
    std::atomic<bool> arrived_{false};
    // Unix seconds: the last beat seen, or the start as active worker when later; 0 as standby.
    std::atomic<double> last_seen_{0};
    std::atomic<bool> silent_{false};
    std::atomic<bool> active_now_{false};

    metrics::Histogram& staleness_;
    metrics::Counter& written_;
    metrics::Counter& seen_;
    metrics::Counter& silences_;
    metrics::Counter& errors_;

    std::mutex mu_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace revalidator::worker
