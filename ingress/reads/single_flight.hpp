// Single flight: concurrent callers that ask for one key share one run of the work, and a caller
// only ever shares a run that started after it arrived. The read routes use it so that a storm
// of misses on one row makes few Postgres reads, none of which can answer a request with a row
// deleted before the request came (docs/read-api.md).
//
// A caller that finds no run for its key starts one. A caller that finds one running waits for it
// to end and then shares the next run, which starts once the current one ends; every caller that
// arrives meanwhile shares that same next run. So per key there is at most one run in flight and
// one queued, and a storm of N callers makes at most two runs while it lasts one run's time.
// Nothing is kept after a run ends.
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
    // `work()`'s result, from this caller's run or from a run that started after this caller
    // arrived; a caller that shares another's run calls `on_join()` before it waits. An
    // exception thrown by a run reaches every caller that shared it.
    template <class Work, class OnJoin>
    Value run(const std::string& key, Work&& work, OnJoin&& on_join) {
        std::unique_lock lock(mu_);
        Slot& slot = slots_[key];
        if (!slot.running.valid()) {
            std::promise<Value> promise;
            slot.running = promise.get_future().share();
            lock.unlock();
            return execute(key, promise, std::forward<Work>(work));
        }
        if (slot.queued.valid()) {
            auto shared = slot.queued;
            ++waiting_;
            lock.unlock();
            on_join();
            return wait(shared);
        }
        // The run in flight may have read before this caller arrived: this caller leads the
        // next one, and waits for the current one to end (its outcome is not ours).
        std::promise<Value> promise;
        slot.queued = promise.get_future().share();
        auto current = slot.running;
        ++waiting_;
        lock.unlock();
        current.wait();
        lock.lock();
        --waiting_;
        Slot& mine = slots_.at(key);
        mine.running = std::move(mine.queued);
        mine.queued = {};
        lock.unlock();
        return execute(key, promise, std::forward<Work>(work));
    }

    // Keys with a run in progress or queued (for tests and metrics).
    std::size_t in_flight() {
        std::lock_guard lock(mu_);
        return slots_.size();
    }
    // Callers waiting for a run that has not ended, other than the ones running it (for tests).
    std::size_t waiting() {
        std::lock_guard lock(mu_);
        return waiting_;
    }

  private:
    struct Slot {
        std::shared_future<Value> running;  // valid while a run is in progress
        std::shared_future<Value> queued;   // valid while the next run waits for it to end
    };

    template <class Work>
    Value execute(const std::string& key, std::promise<Value>& promise, Work&& work) {
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

    Value wait(const std::shared_future<Value>& shared) {
        shared.wait();
        {
            std::lock_guard lock(mu_);
            --waiting_;
        }
        return shared.get();
    }

    // The slot stays while a next run is queued: its leader takes it over when woken.
    void finish(const std::string& key) {
        std::lock_guard lock(mu_);
        auto it = slots_.find(key);
        if (it != slots_.end() && !it->second.queued.valid()) slots_.erase(it);
    }

    std::mutex mu_;
    std::unordered_map<std::string, Slot> slots_;
    std::size_t waiting_ = 0;
};

}  // namespace revalidator::ingress
