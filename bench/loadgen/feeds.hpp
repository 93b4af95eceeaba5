// Where requests come from (see http_load.hpp for the Feed contract):
// - CyclingFeed: ack mode. A pool of pre-built webhooks sent round-robin, either whenever a
//   connection is free (closed loop) or on a fixed schedule of `rate` per second (open loop).
// - ListFeed: an e2e burst. Every webhook once, as fast as the connections allow.
// - QueueFeed: e2e at a steady rate. Another thread changes a row, then queues its webhook; the
//   intended send time is the commit, as for a database that fires its webhook after commit.
#pragma once

#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "http_load.hpp"

namespace loadgen {

class CyclingFeed final : public Feed {
  public:
    // `rate` requests per second; 0 means closed loop.
    CyclingFeed(std::vector<std::string> pool, double rate);
    // Starts the schedule (open loop) at `start`.
    void restart(Clock::time_point start);
    // Requests that fell due by `now` but were never sent (open loop only).
    std::uint64_t behind(Clock::time_point now) const;

    std::optional<Request> next(Clock::time_point now) override;
    Clock::time_point next_due() const override;
    bool exhausted() const override { return false; }

  private:
    Clock::time_point due(std::uint64_t i) const;

    std::vector<std::string> pool_;
    double rate_;
    Clock::time_point start_;
    std::uint64_t i_ = 0;
};

class ListFeed final : public Feed {
  public:
    // Request i carries tag i.
    explicit ListFeed(const std::vector<std::string>& requests) : requests_(requests) {}

    std::optional<Request> next(Clock::time_point now) override;
    Clock::time_point next_due() const override;
    bool exhausted() const override { return i_ >= requests_.size(); }

  private:
    const std::vector<std::string>& requests_;
    std::size_t i_ = 0;
};

class QueueFeed final : public Feed {
  public:
    QueueFeed();
    ~QueueFeed() override;
    QueueFeed(const QueueFeed&) = delete;
    QueueFeed& operator=(const QueueFeed&) = delete;

    // From the producing thread. `bytes` must stay alive until the engine's run() returns.
    void push(const std::string& bytes, std::uint64_t tag, Clock::time_point intended);
    // From the producing thread, after its last push.
    void close();

    std::optional<Request> next(Clock::time_point now) override;
    Clock::time_point next_due() const override { return Clock::time_point::max(); }
    bool exhausted() const override;
    int wake_fd() const override { return efd_; }

  private:
    void wake();

    int efd_;
    mutable std::mutex mu_;
    std::deque<Request> q_;
    std::atomic<bool> closed_{false};
};

}  // namespace loadgen
