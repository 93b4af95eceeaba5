// What the answers waiting to be written hold, for all connections of a server together, so that
// the read lanes can stop taking work while it is over the cap (docs/read-api.md, "Capacity").
// A body shared by many answers (a list many clients read) is counted once, as the memory it is:
// bodies of at least `shared_from` bytes are tracked by address, smaller ones by size per answer.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "answer.hpp"

namespace revalidator::http {

class OutputBudget {
  public:
    OutputBudget(std::size_t cap, std::size_t shared_from) : cap_(cap), shared_from_(shared_from) {}

    // An answer is queued on a connection / is written or dropped. Safe from any thread.
    void hold(const Answer& a);
    void release(const Answer& a);

    std::size_t held() const { return owned_.load() + shared_.load(); }
    bool over() const { return held() > cap_; }
    std::size_t cap() const { return cap_; }

  private:
    bool tracked(const Answer& a) const { return a.body && a.body->size() >= shared_from_; }

    const std::size_t cap_;
    const std::size_t shared_from_;
    std::atomic<std::size_t> owned_{0};
    std::atomic<std::size_t> shared_{0};
    std::mutex mu_;
    std::unordered_map<const std::string*, std::size_t> holders_;  // body -> answers holding it
};

}  // namespace revalidator::http
