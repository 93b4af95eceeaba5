// Staleness as a reader sees it: for a sample of the changed rows, the time from the webhook's
// ack (and, where known, from the change's commit) until Memcached first shows the row's new
// value. A thread polls the sampled keys that are
// acked and not yet seen, one pipelined multi-get per round, so each figure may be late by up
// to one round (the interval plus the multi-get), never early; the report states the interval.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cache_view.hpp"
#include "http_load.hpp"

namespace loadgen {

class StalenessSampler {
  public:
    StalenessSampler(const std::string& memcached, std::vector<std::string> keys,
                     std::chrono::milliseconds interval);
    ~StalenessSampler();
    StalenessSampler(const StalenessSampler&) = delete;
    StalenessSampler& operator=(const StalenessSampler&) = delete;

    // The value key i must show; call before its webhook is sent.
    void expect(std::size_t i, std::string value);
    // From the engine's thread: key i's webhook was acknowledged at `t`.
    void acked(std::size_t i, Clock::time_point t);
    // Key i's change was committed at `t` (Postgres' clock, on this steady clock); call before
    // its webhook is sent.
    void committed(std::size_t i, Clock::time_point t);

    // Stops once every acked key was seen or at `deadline`; returns each key's staleness in
    // seconds (nullopt: not acked, or not seen by the deadline).
    std::vector<std::optional<double>> finish(Clock::time_point deadline);
    // After finish(): each key's time from its commit until it was seen, in seconds (nullopt:
    // no commit time, or not seen).
    const std::vector<std::optional<double>>& since_commit() const { return since_commit_; }

  private:
    void run();

    CacheView view_;
    std::vector<std::string> keys_, expected_;
    std::unique_ptr<std::atomic<std::int64_t>[]> acked_ns_;  // 0: not acked yet
    std::vector<std::optional<double>> seen_;
    std::unique_ptr<std::atomic<std::int64_t>[]> committed_ns_;  // 0: not known
    std::vector<std::optional<double>> since_commit_;
    std::chrono::milliseconds interval_;
    std::atomic<std::int64_t> deadline_ns_{INT64_MAX};
    std::thread thread_;
};

}  // namespace loadgen
