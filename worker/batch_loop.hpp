// The worker's loop logic, without sockets: decode frames, track streams, coalesce into Pending,
// and apply when due. Failures back off exponentially (capped) and keep everything owed, so an
// outage of Postgres or Memcached neither spins nor loses work; when the source or the cache
// comes back the owed work (a resync, after a cache outage) is applied. Between batches, the
// anti-entropy pass (anti_entropy.hpp) verifies a slice when its budget allows, and what it finds
// joins the next batch.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "anti_entropy.hpp"
#include "applier.hpp"
#include "config/table.hpp"
#include "pending.hpp"
#include "runtime/metrics.hpp"
#include "stream_tracker.hpp"

namespace revalidator::worker {

// The settings are built from the worker's Config (worker_config.hpp), which holds their defaults;
// the others are the loop's own.
struct BatchLoopConfig {
    Table table;
    std::size_t max_pending = 0;
    std::chrono::milliseconds resync_interval{};  // 0 disables
    std::chrono::milliseconds retry_min{100};
    std::chrono::milliseconds retry_max{};
    std::chrono::milliseconds cache_check_interval{1000};  // how often to look for a cache restart
};

class BatchLoop {
  public:
    // `anti_entropy` may be null (no continuous verification).
    BatchLoop(Applier& applier, BatchLoopConfig cfg, metrics::Registry& registry,
              AntiEntropy* anti_entropy = nullptr);

    void ingest(const std::vector<std::string>& frames);
    // Applies pending work when it is due. Returns how long to wait for frames before calling
    // again.
    std::chrono::milliseconds step();
    // Thread-safe: the admin endpoint and start-up use it.
    void request_resync(const std::string& reason);
    // This process took the table's lease: a resync, and the applier told (Applier::took_over).
    // On the loop's thread.
    void became_active();

    bool source_ok() const { return source_ok_; }
    bool cache_ok() const { return cache_ok_; }
    std::size_t pending_keys() const { return pending_size_; }

  private:
    using Clock = std::chrono::steady_clock;
    // Capped exponential backoff: the next attempt waits twice as long, up to retry_max.
    void retry_later(Clock::time_point now);
    // How long to wait for frames with nothing owed: until the anti-entropy pass's next step.
    std::chrono::milliseconds idle_wait(Clock::time_point now) const;

    Applier& applier_;
    AntiEntropy* anti_entropy_;
    BatchLoopConfig cfg_;
    Pending pending_;
    StreamTracker tracker_;
    Clock::time_point retry_at_{};
    std::chrono::milliseconds backoff_;
    Clock::time_point next_periodic_;
    Clock::time_point next_cache_check_{};
    std::mutex resync_mu_;
    std::string resync_reason_;
    std::atomic<bool> source_ok_{false}, cache_ok_{true};
    std::atomic<std::size_t> pending_size_{0};

    metrics::Counter& events_;
    metrics::Counter& frames_rejected_;
    metrics::Counter& foreign_;
    metrics::Counter& gaps_;
    metrics::Counter& failures_;
    metrics::Counter& fenced_;
};

}  // namespace revalidator::worker
