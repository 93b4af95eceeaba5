// Single flight: concurrent callers that ask for one key share one run of the work. The first
// caller runs it; those who arrive while it runs wait for its result instead of running it again.
// The read routes use it so that a storm of misses on one row makes one Postgres read
// (docs/read-api.md). Nothing is kept after the run ends: the next caller runs the work anew, so
// a result is never older than the request that receives it.
#pragma once

#include <exception>
#include <future>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace revalidator::ingress {

template <class Value>
class SingleFlight {
  public:
    // `work()`'s result, from this caller's run or from the run in progress for `key`; a caller
    // that shares a run calls `on_join()` before it waits. An exception thrown by the run reaches
    // every caller that shared it.
    template <class Work, class OnJoin>
    Value run(const std::string& key, Work&& work, OnJoin&& on_join) {
        std::unique_lock lock(mu_);
        if (auto it = inflight_.find(key); it != inflight_.end()) {
            auto shared = it->second;
            lock.unlock();
            on_join();
            return shared.get();
        }
        std::promise<Value> promise;
        inflight_.emplace(key, promise.get_future().share());
        lock.unlock();
        try {
            Value value = std::forward<Work>(work)();
            finish(key);
            promise.set_value(value);
            return value;
        } catch (...) {
            finish(key);
            promise.set_exception(std::current_exception());
            throw;
        }
    }

    // Runs in progress (for tests and metrics).
    std::size_t in_flight() {
        std::lock_guard lock(mu_);
        return inflight_.size();
    }

  private:
    void finish(const std::string& key) {
        std::lock_guard lock(mu_);
        inflight_.erase(key);
    }

    std::mutex mu_;
    std::unordered_map<std::string, std::shared_future<Value>> inflight_;
};

}  // namespace revalidator::ingress
