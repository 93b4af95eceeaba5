// The worker's loop logic, without sockets: decode frames, track streams, coalesce into Pending,
// and apply when due. Failures back off exponentially (capped) and keep everything owed, so an
// outage of Postgres or Memcached neither spins nor loses work; when the source or the cache
// comes back the owed work (a resync, after a cache outage) is applied. Between batches, the
// anti-entropy pass (anti_entropy.hpp) verifies a slice when its budget allows, and what it finds
// joins the next batch. A beat of the canary (canary.hpp) for this collection is no row: once
// everything owed when it arrived is in the cache, the loop tells the canary.
// With read_ahead (off by default), the next batch's rows are read on a thread of the loop's own
// while this batch's writes are in flight. A key's writes keep their order: each batch is written
// after the one before it, from a snapshot taken after that one's. A failure, or a resync owed,
// waits for the read ahead and puts its batch back. The thread is joined before step() returns to a
// state with no read ahead, by finish(), and by the destructor.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
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
    bool read_ahead = false;
    std::chrono::milliseconds resync_interval{};  // 0 disables
    std::chrono::milliseconds retry_min{100};
    std::chrono::milliseconds retry_max{};
    std::chrono::milliseconds cache_check_interval{1000};  // how often to look for a cache restart
    // The canary's row key (config/canary.hpp) and whom to tell of its beats; none: canary events
    // are dropped.
    std::string canary{};
    std::function<void()> beat_seen{};
};

class BatchLoop {
  public:
    // `anti_entropy` may be null (no continuous verification).
    BatchLoop(Applier& applier, BatchLoopConfig cfg, metrics::Registry& registry,
              AntiEntropy* anti_entropy = nullptr);

    // Frames waiting now, without waiting for any (Inbox::receive with no timeout).
    using Refill = std::function<std::vector<std::string>()>;

    // Waits for a read ahead, so its thread ends before what it reads through.
    ~BatchLoop();

    void ingest(const std::vector<std::string>& frames);
    // Applies pending work when it is due. With read_ahead, once a batch's rows are read, the
    // frames `refill` returns are ingested and what is pending is read ahead while the batch is
    // written. Returns how long to wait for frames before calling again (0 while reading ahead).
    std::chrono::milliseconds step(const Refill& refill = {});
    // Writes the batch read ahead, if any, and reads no further: before this process stops
    // consuming.
    void finish();
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
    // With nothing owed, a beat that arrived is in the cache as far as this worker can tell.
    void settle_beat();
    // Runs `work` for `batch`; what it does not finish (all of `batch` when it throws) is owed,
    // retried after a backoff, and the read ahead is put back. True when the batch is done.
    bool attempt(Batch& batch, const std::function<Outcome()>& work, Clock::time_point now);
    // With read_ahead and a batch's rows in hand: starts reading what is owed now.
    void read_ahead(const Refill& refill);
    // Waits for the read ahead and puts its batch back, unread.
    void put_back_read_ahead();

    struct ReadAhead {
        Batch batch;
        std::future<BatchRead> read;
    };

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
    std::optional<ReadAhead> ahead_;
    bool beat_owed_ = false;

    metrics::Counter& events_;
    metrics::Counter& heartbeats_;
    metrics::Counter& ends_;
    metrics::Counter& frames_rejected_;
    metrics::Counter& foreign_;
    metrics::Counter& gaps_;
    metrics::Counter& failures_;
    metrics::Counter& fenced_;
};

}  // namespace revalidator::worker
