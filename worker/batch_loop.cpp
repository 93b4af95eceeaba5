#include "batch_loop.hpp"

#include <algorithm>

#include "config/canary.hpp"
#include "runtime/log.hpp"
#include "wire/wire.hpp"

namespace revalidator::worker {

using namespace std::chrono;

BatchLoop::BatchLoop(Applier& applier, BatchLoopConfig cfg, metrics::Registry& r,
                     AntiEntropy* anti_entropy)
    : applier_(applier),
      anti_entropy_(anti_entropy),
      cfg_(std::move(cfg)),
      pending_(cfg_.max_pending),
      backoff_(cfg_.retry_min),
      next_periodic_(Clock::now() + cfg_.resync_interval),
      events_(r.counter("revalidator_worker_events_total",
                        "Row events received and decoded (markers apart)")),
      heartbeats_(r.counter("revalidator_worker_heartbeats_total",
                            "HEARTBEAT markers received and decoded")),
      ends_(r.counter("revalidator_worker_stream_ends_total", "END markers received and decoded")),
      frames_rejected_(
          r.counter("revalidator_worker_frames_rejected_total",
                    "Frames that were not valid events (bad JSON, unknown version, bad field)")),
      foreign_(r.counter("revalidator_worker_events_foreign_total",
                         "Events for a table this worker does not serve")),
      gaps_(r.counter("revalidator_worker_stream_gaps_total",
                      "Lost events detected (gap, restart, new stream)")),
      failures_(r.counter("revalidator_worker_apply_failures_total",
                          "Batches that failed and were retried")),
      fenced_(r.counter("revalidator_worker_fenced_total",
                        "Batches stopped because the lease was not confirmed fresh")) {
    r.gauge_fn("revalidator_worker_pending_keys", "Rows owed to the cache",
               [this] { return static_cast<double>(pending_size_.load()); });
    r.gauge_fn("revalidator_worker_postgres_up",
               "1 while the table's last Postgres read worked, 0 since one failed",
               [this] { return source_ok() ? 1.0 : 0.0; });
    r.gauge_fn("revalidator_worker_cache_up",
               "1 while the table's last cache writes worked, 0 since one failed",
               [this] { return cache_ok() ? 1.0 : 0.0; });
}

void BatchLoop::ingest(const std::vector<std::string>& frames) {
    for (const auto& frame : frames) {
        auto decoded = wire::decode(frame);
        if (!decoded) {
            frames_rejected_.inc();
            log::warn("frame rejected", {{"reason", decoded.error().reason},
                                         {"detail", decoded.error().detail},
                                         {"bytes", frame.size()}});
            continue;
        }
        const Event& e = *decoded;
        (e.op == Op::Heartbeat ? heartbeats_ : e.op == Op::End ? ends_ : events_).inc();
        // Tracked first: an event this worker drops is not a lost event of the stream.
        Verdict v = tracker_.observe(e);
        if (needs_resync(v)) {
            gaps_.inc();
            log::warn("events lost on a stream; resyncing", {{"stream", e.stream},
                                                             {"epoch", e.epoch},
                                                             {"seq", e.seq},
                                                             {"verdict", to_string(v)}});
            pending_.require_resync(std::string("stream ") + to_string(v));
        }
        if (is_canary(e.schema, e.table)) {
            // Ignored when this worker runs no canary, or it is another collection's beat.
            beat_owed_ |= cfg_.beat_seen && e.pk == cfg_.canary && !is_marker(e.op);
            continue;
        }
        if (!cfg_.table.is(e.schema, e.table)) {
            foreign_.inc();
            log::warn("event for another table dropped",
                      {{"stream", e.stream}, {"seq", e.seq}, {"table", e.schema + "." + e.table}});
            continue;
        }
        if (e.op == Op::Resync) {
            log::info("the table was emptied at once; resyncing",
                      {{"stream", e.stream}, {"seq", e.seq}});
            pending_.require_resync("RESYNC event");
        } else if (names_row(e.op)) {
            pending_.add(e.pk, e.received_us);
        }
    }
    pending_size_ = pending_.size();
}

void BatchLoop::settle_beat() {
    if (!beat_owed_) return;
    beat_owed_ = false;
    cfg_.beat_seen();
}

void BatchLoop::became_active() {
    applier_.took_over();
    if (anti_entropy_) anti_entropy_->forget_found();
    request_resync("became active");
}

void BatchLoop::request_resync(const std::string& reason) {
    std::lock_guard lock(resync_mu_);
    if (resync_reason_.empty()) resync_reason_ = reason;
}

void BatchLoop::retry_later(Clock::time_point now) {
    retry_at_ = now + backoff_;
    backoff_ = std::min(backoff_ * 2, cfg_.retry_max);
}

milliseconds BatchLoop::idle_wait(Clock::time_point now) const {
    if (!anti_entropy_ || !anti_entropy_->enabled()) return milliseconds(500);
    const auto until_due = duration_cast<milliseconds>(anti_entropy_->due() - now);
    return std::clamp(until_due + milliseconds(1), milliseconds(0), milliseconds(500));
}

BatchLoop::~BatchLoop() {
    if (ahead_ && ahead_->read.valid()) ahead_->read.wait();
}

void BatchLoop::put_back_read_ahead() {
    if (!ahead_) return;
    ahead_->read.wait();  // its outcome, a snapshot or an error, is not needed
    pending_.restore(std::move(ahead_->batch));
    ahead_.reset();
}

void BatchLoop::read_ahead(const Refill& refill) {
    if (!cfg_.read_ahead) return;
    if (refill) ingest(refill());
    if (pending_.empty() || pending_.resync_required()) return;
    Batch next = pending_.take();
    auto read = applier_.reader(next);
    ahead_.emplace(ReadAhead{std::move(next), std::async(std::launch::async, std::move(read))});
}

bool BatchLoop::attempt(Batch& batch, const std::function<Outcome()>& work, Clock::time_point now) {
    try {
        Outcome out = work();
        if (anti_entropy_) anti_entropy_->applied(batch, out, Clock::now());
        source_ok_ = true;
        cache_ok_ = !out.cache_unreachable;
        if (out.done()) {
            backoff_ = cfg_.retry_min;
            return true;
        }
        pending_.restore(std::move(out.retry));
    } catch (const Fenced&) {
        source_ok_ = true;  // writes come after the read: Postgres answered
        fenced_.inc();
        log::warn("writes stopped: the lease is not confirmed fresh; batch kept",
                  {{"rows", batch.pks.size()}, {"full", batch.full}});
        pending_.restore(std::move(batch));
    } catch (const std::exception& e) {
        failures_.inc();
        source_ok_ = false;
        log::error("batch failed; will retry", {{"error", e.what()},
                                                {"rows", batch.pks.size()},
                                                {"full", batch.full},
                                                {"retry_ms", backoff_.count()}});
        pending_.restore(std::move(batch));
    }
    // The read ahead would be written into the same trouble: it waits with the rest.
    put_back_read_ahead();
    retry_later(now);
    return false;
}

milliseconds BatchLoop::step(const Refill& refill) {
    auto now = Clock::now();
    {
        std::lock_guard lock(resync_mu_);
        if (!resync_reason_.empty()) pending_.require_resync(resync_reason_);
        resync_reason_.clear();
    }
    if (cfg_.resync_interval.count() > 0 && now >= next_periodic_) {
        pending_.require_resync("periodic");
        next_periodic_ = now + cfg_.resync_interval;
    }
    if (now >= next_cache_check_) {
        next_cache_check_ = now + cfg_.cache_check_interval;
        if (applier_.cache_restarted()) {
            log::warn("cache restarted empty; resyncing");
            pending_.require_resync("cache restarted");
        }
    }
    // A resync rewrites everything the read ahead would: its batch joins the resync.
    if (pending_.resync_required()) put_back_read_ahead();
    // The pass runs on its budget whether or not events are owed (under a steady stream of
    // webhooks something always is): what it finds joins the next batch. Not before a full
    // resync, which rewrites everything anyway.
    const bool verifying = anti_entropy_ && anti_entropy_->enabled();
    if (verifying && !pending_.resync_required() && now >= anti_entropy_->due()) {
        Repairs found = anti_entropy_->step(now);
        for (const auto& pk : found.pks) pending_.add(pk, 0);
        if (found.list) pending_.require_list();
    }
    if (ahead_) {
        ReadAhead ahead = std::move(*ahead_);
        ahead_.reset();
        attempt(
            ahead.batch,
            [&] {
                BatchRead read = ahead.read.get();
                read_ahead(refill);
                return applier_.write(ahead.batch, std::move(read));
            },
            now);
    } else {
        if (pending_.empty()) {
            settle_beat();
            return idle_wait(now);
        }
        if (now < retry_at_) return duration_cast<milliseconds>(retry_at_ - now) + milliseconds(1);
        Batch batch = pending_.take();
        attempt(
            batch,
            [&] {
                if (batch.full || !cfg_.read_ahead) return applier_.apply(batch);
                BatchRead read = applier_.reader(batch)();
                read_ahead(refill);
                return applier_.write(batch, std::move(read));
            },
            now);
    }
    pending_size_ = pending_.size();
    if (ahead_) return milliseconds(0);
    if (pending_.empty()) {
        settle_beat();
        return idle_wait(Clock::now());
    }
    return std::max(milliseconds(0), duration_cast<milliseconds>(retry_at_ - Clock::now()));
}

void BatchLoop::finish() {
    if (!ahead_) return;
    ReadAhead ahead = std::move(*ahead_);
    ahead_.reset();
    attempt(
        ahead.batch, [&] { return applier_.write(ahead.batch, ahead.read.get()); }, Clock::now());
    pending_size_ = pending_.size();
}

}  // namespace revalidator::worker
