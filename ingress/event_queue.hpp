// The ingress's bounded queue between HTTP threads and the publisher. push() stamps each change
// with this stream's next sequence number and the receive time; a change that is refused (queue
// full or closed) still takes its number, so the worker sees the gap and resyncs instead of
// losing the change silently. fill() queues a read's request to look at a row (docs/read-api.md):
// a hint, not a change, so a refused one takes no number; its loss costs nothing, and a gap would
// cost a resync of the table.
// The bound keeps memory flat when the worker is slow or away: the HTTP side answers 503.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "wire/event.hpp"

namespace revalidator::ingress {

class EventQueue {
  public:
    EventQueue(std::string stream, std::uint64_t epoch, std::size_t capacity);

    enum class Push { Queued, Full, Closed };
    Push push(Op op, const std::string& schema, const std::string& table, const std::string& pk,
              std::uint64_t received_us);
    // An UPDATE for row `pk` on behalf of a read; numbered only when queued.
    Push fill(const std::string& schema, const std::string& table, const std::string& pk,
              std::uint64_t received_us);

    // Waits up to `timeout` for an event, closed or not: the publisher keeps sending while the
    // HTTP side drains, and decides itself when to stop.
    std::optional<Event> pop(std::chrono::milliseconds timeout);
    // Like pop(), but takes every event waiting, up to `max`, under one lock.
    std::vector<Event> take(std::size_t max, std::chrono::milliseconds timeout);
    // Puts an event that could not be sent back at the head, keeping the order.
    void unpop(Event e);

    // Stops accepting (the drain: push() answers Closed). The END marker that a clean shutdown
    // sends takes the next number.
    void close();
    // Drops what is still queued, for a drain that ran out of time, and returns how many. Their
    // numbers stay used, so the END stamped after them shows the worker the gap.
    std::size_t discard();
    // A stream marker (END, HEARTBEAT) stamped with the next number, but only while nothing is
    // queued: every number before it then belongs to an event the (one) consumer has already
    // taken, so the marker cannot overtake an event on the way to the worker (which would see a
    // gap). nullopt while events wait; they go first.
    std::optional<Event> marker(Op op, const std::string& schema, const std::string& table);

    std::size_t depth() const;
    std::size_t capacity() const { return capacity_; }
    std::uint64_t last_seq() const;
    const std::string& stream() const { return stream_; }
    std::uint64_t epoch() const { return epoch_; }

  private:
    // Stamps the event, and queues it unless refused; `numbered_if_refused` says whether a
    // refusal still takes the number.
    Push offer(Op op, const std::string& schema, const std::string& table, const std::string& pk,
               std::uint64_t received_us, bool numbered_if_refused);
    Event stamp(Op op, const std::string& schema, const std::string& table, const std::string& pk,
                std::uint64_t received_us);

    const std::string stream_;
    const std::uint64_t epoch_;
    const std::size_t capacity_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Event> q_;
    std::uint64_t seq_ = 0;
    bool closed_ = false;
};

}  // namespace revalidator::ingress
