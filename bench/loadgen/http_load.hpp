// The HTTP load engine: one thread, one epoll set, N keep-alive connections with at most one
// request in flight each (webhook senders do not pipeline). 128 connections on a 2-core machine
// would otherwise need 128 threads competing with the server under test for the same two cores;
// an event loop keeps the generator's own cost to a couple of system calls per request.
//
// What to send and when comes from a Feed. A closed-loop feed hands out a request whenever a
// connection is free; an open-loop feed follows a schedule, and latency then counts from the
// intended send time rather than the actual one, so a stalled server is charged for the requests
// it kept waiting (no coordinated omission).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "url.hpp"

namespace loadgen {

using Clock = std::chrono::steady_clock;

struct Request {
    const std::string* bytes = nullptr;  // the whole request; the feed keeps it alive during run()
    std::uint64_t tag = 0;               // the feed's own number for it
    Clock::time_point intended;          // when it was meant to go out: latency counts from here
};

enum class Failure {
    None,
    Timeout,   // no complete answer within the timeout; the connection is closed and reopened
    Closed,    // the connection closed or reset while the request was in flight
    Protocol,  // the answer was not HTTP/1.x with a length the engine can frame
};
const char* to_string(Failure f);

struct Outcome {
    std::uint64_t tag = 0;
    int status = 0;  // the HTTP status; 0 when the request failed
    Failure failure = Failure::None;
    Clock::time_point intended, done;
};

class Feed {
  public:
    virtual ~Feed() = default;
    // The request due at `now`; nullopt when none is due yet or the feed is exhausted.
    virtual std::optional<Request> next(Clock::time_point now) = 0;
    // When the next request falls due; Clock::time_point::max() when unknown (see wake_fd) or
    // exhausted. A time <= now promises that next(now) returns a request.
    virtual Clock::time_point next_due() const = 0;
    virtual bool exhausted() const = 0;
    // A descriptor that turns readable when a request falls due that next_due() could not
    // foresee (an eventfd; the engine reads it to clear it), or -1.
    virtual int wake_fd() const { return -1; }
};

struct EngineConfig {
    Url target;
    int connections = 32;
    std::chrono::milliseconds timeout{1000};
};

class Engine {
  public:
    // Resolves the target's host; throws std::runtime_error when it cannot.
    explicit Engine(EngineConfig cfg);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    using Sink = std::function<void(const Outcome&)>;
    // Sends what `feed` gives until `until`, until `max` requests went out or the feed is
    // exhausted, then waits for the answers still in flight (each up to the timeout). Every
    // request sent is reported to `sink` exactly once. Connections stay open across calls.
    // Returns the number of requests sent.
    std::uint64_t run(Feed& feed, Clock::time_point until, std::uint64_t max, const Sink& sink);

    // Connection attempts that failed (refused, reset, timed out) since construction.
    std::uint64_t connect_failures() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace loadgen
