#include "event_queue.hpp"

#include "runtime/clock.hpp"

namespace revalidator::ingress {

EventQueue::EventQueue(std::string stream, std::uint64_t epoch, std::size_t capacity)
    : stream_(std::move(stream)), epoch_(epoch), capacity_(capacity) {}

Event EventQueue::stamp(Op op, const std::string& schema, const std::string& table,
                        const std::string& pk, std::uint64_t received_us) {
    return Event{stream_, epoch_, ++seq_, received_us, op, schema, table, pk};
}

EventQueue::Push EventQueue::push(Op op, const std::string& schema, const std::string& table,
                                  const std::string& pk, std::uint64_t received_us) {
    return offer(op, schema, table, pk, received_us, true);
}

EventQueue::Push EventQueue::fill(const std::string& schema, const std::string& table,
                                  const std::string& pk, std::uint64_t received_us) {
    return offer(Op::Update, schema, table, pk, received_us, false);
}

EventQueue::Push EventQueue::offer(Op op, const std::string& schema, const std::string& table,
                                   const std::string& pk, std::uint64_t received_us,
                                   bool numbered_if_refused) {
    bool was_empty = false;
    {
        std::lock_guard lock(mu_);
        const Push verdict = closed_                  ? Push::Closed
                             : q_.size() >= capacity_ ? Push::Full
                                                      : Push::Queued;
        if (verdict != Push::Queued) {
            if (numbered_if_refused) ++seq_;
            return verdict;
        }
        was_empty = q_.empty();
        q_.push_back(stamp(op, schema, table, pk, received_us));
    }
    // The consumer waits only on an empty queue: one wake per refill, not one per event.
    if (was_empty) cv_.notify_one();
    return Push::Queued;
}

std::optional<Event> EventQueue::pop(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !q_.empty(); });
    if (q_.empty()) return std::nullopt;
    Event e = std::move(q_.front());
    q_.pop_front();
    return e;
}

std::vector<Event> EventQueue::take(std::size_t max, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !q_.empty(); });
    std::vector<Event> out;
    out.reserve(std::min(max, q_.size()));
    while (!q_.empty() && out.size() < max) {
        out.push_back(std::move(q_.front()));
        q_.pop_front();
    }
    return out;
}

void EventQueue::unpop(Event e) {
    std::lock_guard lock(mu_);
    q_.push_front(std::move(e));
}

void EventQueue::close() {
    std::lock_guard lock(mu_);
    closed_ = true;
}

std::size_t EventQueue::discard() {
    std::lock_guard lock(mu_);
    const std::size_t n = q_.size();
    q_.clear();
    return n;
}

std::optional<Event> EventQueue::marker(Op op, const std::string& schema,
                                        const std::string& table) {
    std::lock_guard lock(mu_);
    if (!q_.empty()) return std::nullopt;
    return stamp(op, schema, table, "", unix_micros());
}

std::size_t EventQueue::depth() const {
    std::lock_guard lock(mu_);
    return q_.size();
}

std::uint64_t EventQueue::last_seq() const {
    std::lock_guard lock(mu_);
    return seq_;
}

}  // namespace revalidator::ingress
