#include "staleness.hpp"

namespace loadgen {

namespace {

std::int64_t ns(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

StalenessSampler::StalenessSampler(const std::string& memcached, std::vector<std::string> keys,
                                   std::chrono::milliseconds interval)
    : view_(memcached),
      keys_(std::move(keys)),
      expected_(keys_.size()),
      acked_ns_(std::make_unique<std::atomic<std::int64_t>[]>(keys_.size())),
      seen_(keys_.size()),
      committed_ns_(std::make_unique<std::atomic<std::int64_t>[]>(keys_.size())),
      since_commit_(keys_.size()),
      interval_(interval) {
    thread_ = std::thread([this] { run(); });
}

StalenessSampler::~StalenessSampler() {
    if (thread_.joinable()) finish(Clock::now());
}

void StalenessSampler::expect(std::size_t i, std::string value) {
    expected_[i] = std::move(value);
}

void StalenessSampler::acked(std::size_t i, Clock::time_point t) {
    acked_ns_[i].store(ns(t), std::memory_order_release);
}

void StalenessSampler::committed(std::size_t i, Clock::time_point t) {
    committed_ns_[i].store(ns(t), std::memory_order_release);
}

std::vector<std::optional<double>> StalenessSampler::finish(Clock::time_point deadline) {
    deadline_ns_ = ns(deadline);
    thread_.join();
    return seen_;
}

void StalenessSampler::run() {
    std::vector<std::size_t> due;
    std::vector<std::string> keys;
    std::size_t seen = 0;
    while (ns(Clock::now()) < deadline_ns_.load()) {
        due.clear();
        keys.clear();
        for (std::size_t i = 0; i < keys_.size(); ++i) {
            if (seen_[i] || acked_ns_[i].load(std::memory_order_acquire) == 0) continue;
            due.push_back(i);
            keys.push_back(keys_[i]);
        }
        // Done when every key was seen; keys never acked (failed webhooks) wait for the deadline.
        if (seen == keys_.size()) return;
        if (!due.empty()) {
            auto got = view_.get_many(keys);
            auto now = ns(Clock::now());
            for (std::size_t i : due) {
                auto it = got.find(keys_[i]);
                if (it == got.end() || it->second != expected_[i]) continue;
                auto ack = acked_ns_[i].load(std::memory_order_acquire);
                seen_[i] = static_cast<double>(std::max<std::int64_t>(0, now - ack)) / 1e9;
                if (auto commit = committed_ns_[i].load(std::memory_order_acquire)) {
                    since_commit_[i] = static_cast<double>(now - commit) / 1e9;
                }
                ++seen;
            }
        }
        std::this_thread::sleep_for(interval_);
    }
}

}  // namespace loadgen
