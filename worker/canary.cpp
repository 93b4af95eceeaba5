#include "canary.hpp"

#include <algorithm>
#include <cmath>

#include "runtime/clock.hpp"
#include "runtime/log.hpp"

namespace revalidator::worker {

namespace {

using std::chrono::milliseconds;

// Beats kept while none is seen (a dead feed): past it the oldest are dropped, unmeasured.
constexpr std::size_t kMaxUnseen = 1000;

double unix_now() {
    return static_cast<double>(unix_micros()) / 1e6;
}

std::vector<double> staleness_buckets() {
    auto b = metrics::latency_buckets();
    b.insert(b.end(), {30, 60, 300});
    return b;
}

}  // namespace

Canary::Canary(CanaryStore& store, CanaryConfig cfg, std::function<bool()> active,
               metrics::Registry& r, UnixClock clock)
    : store_(store),
      cfg_(std::move(cfg)),
      active_(std::move(active)),
      clock_(clock ? std::move(clock) : UnixClock(unix_now)),
      interval_s_(std::chrono::duration<double>(cfg_.interval).count()),
      staleness_(r.histogram("revalidator_canary_staleness_seconds",
                             "Time from a canary beat's commit (its clock_timestamp()) to the "
                             "worker's cache having it",
                             staleness_buckets())),
      written_(r.counter("revalidator_canary_beats_written_total",
                         "Canary beats this worker wrote to Postgres")),
      seen_(r.counter("revalidator_canary_beats_seen_total",
                      "Canary beats seen through the webhook path")),
      silences_(r.counter("revalidator_canary_silent_total",
                          "Times the canary's feed fell silent (no beat seen within the silence "
                          "bound)")),
      errors_(r.counter("revalidator_canary_errors_total",
                        "Canary writes and reads Postgres did not answer")) {
    r.gauge_fn("revalidator_canary_last_seen_timestamp_seconds",
               "Unix time of the last canary beat seen, or of the canary's start as active "
               "worker when later; 0 on a standby",
               [this] { return last_seen_.load(); });
    r.gauge_fn("revalidator_canary_interval_seconds",
               "The canary's interval while this worker beats (holds the lease); 0 otherwise",
               [this] { return active_now_ ? interval_s_ : 0.0; });
    r.gauge_fn("revalidator_canary_silent", "1 while the canary's feed is silent",
               [this] { return silent_ ? 1.0 : 0.0; });
}

Canary::~Canary() {
    stop();
}

void Canary::arrived() {
    {
        std::lock_guard lock(mu_);
        arrived_ = true;
    }
    wake_.notify_one();
}

milliseconds Canary::tick() {
    const double now = clock_();
    if (!active_()) {
        if (beating_) {
            beating_ = false;
            unseen_.clear();
            last_seen_ = 0;
            silent_ = false;
            active_now_ = false;
        }
        return cfg_.interval;
    }
    if (!beating_) {
        beating_ = true;
        active_now_ = true;
        next_beat_ = now;
        last_seen_ = now;
        arrived_ = false;  // a beat of the previous active worker's
        measure_owed_ = false;
    }
    if (arrived_.exchange(false) || measure_owed_) measure(now);
    if (clock_() >= next_beat_) beat(clock_());
    judge(clock_());
    // Woken for the next beat, or as the silence bound passes, so that silence is reported as it
    // starts rather than at the next beat.
    double until = next_beat_ - clock_();
    if (!silent_) until = std::min(until, last_seen_ + silent_after_s() - clock_());
    return milliseconds(std::max<long>(1, std::lround(until * 1000) + 1));
}

void Canary::measure(double now) {
    auto seen = store_.read();
    measure_owed_ = !seen;  // measured at the next round, later but not lost
    if (!seen) return failed("read", seen.error());
    recovered();
    const double visible = std::max(now, clock_());
    bool any = false;
    while (!unseen_.empty() && unseen_.front().beat <= *seen) {
        staleness_.observe(std::max(0.0, visible - unseen_.front().at));
        seen_.inc();
        unseen_.pop_front();
        any = true;
    }
    if (any) last_seen_ = std::max(last_seen_.load(), visible);
}

void Canary::beat(double now) {
    next_beat_ = now + interval_s_;
    auto wrote = store_.write();
    if (!wrote) return failed("write", wrote.error());
    recovered();
    written_.inc();
    unseen_.push_back(*wrote);
    if (unseen_.size() > kMaxUnseen) unseen_.pop_front();
}

void Canary::judge(double now) {
    const bool quiet = now - last_seen_ > silent_after_s();
    if (quiet == silent_) return;
    silent_ = quiet;
    if (quiet) {
        silences_.inc();
        log::warn("canary: the webhook feed is silent", {{"collection", cfg_.name},
                                                         {"silent_for_s", now - last_seen_},
                                                         {"unseen_beats", unseen_.size()}});
    } else {
        log::info("canary: the webhook feed is back", {{"collection", cfg_.name}});
    }
}

void Canary::failed(const std::string& what, const std::string& error) {
    errors_.inc();
    if (failing_) return;
    failing_ = true;
    log::warn("canary: postgres did not answer",
              {{"collection", cfg_.name}, {"call", what}, {"error", error}});
}

void Canary::recovered() {
    if (!failing_) return;
    failing_ = false;
    log::info("canary: postgres answers again", {{"collection", cfg_.name}});
}

nlohmann::json Canary::detail() const {
    if (!active_now_) {
        return {
            {"collection", cfg_.name}, {"interval_ms", cfg_.interval.count()}, {"beating", false}};
    }
    return {{"collection", cfg_.name},
            {"interval_ms", cfg_.interval.count()},
            {"beating", true},
            {"last_seen", last_seen_.load()},
            {"silent", silent_.load()}};
}

void Canary::start() {
    thread_ = std::thread([this] {
        std::unique_lock lock(mu_);
        while (!stopping_) {
            lock.unlock();
            const auto wait = tick();
            lock.lock();
            wake_.wait_for(lock, wait, [this] { return stopping_ || arrived_; });
        }
    });
}

void Canary::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
}

}  // namespace revalidator::worker
