// What the worker's role (role.hpp) drives, as interfaces: the table's lease, the inbox that
// events arrive in, and the process's stop signal. The adapters implement them (Lease in
// lease.cpp over libpq, Consumer in consumer.cpp over ZeroMQ, ProcessStop over shutdown.hpp); the
// unit tests drive the role with fakes, on a virtual clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace revalidator::worker {

// One active worker per table (docs/operations.md, "One writer, fenced").
class TableLease {
  public:
    virtual ~TableLease() = default;
    // Tries once to take the lease; true while it is held.
    virtual bool try_acquire() = 0;
    // Whether the lease is still ours; false from the moment it may have been lost.
    virtual bool held() const = 0;
    // Gives the lease up at once, so a standby need not wait for it to time out.
    virtual void release() = 0;
    // Whether a worker of the same table asked, since the last call, for the table to be
    // resynced (it may have written late after losing the lease).
    virtual bool take_repair_request() = 0;
};

// Where events arrive while the worker is active; unbound when destroyed.
class Inbox {
  public:
    virtual ~Inbox() = default;
    // Up to `max` frames: waits at most `timeout` for the first, then takes what is waiting.
    virtual std::vector<std::string> receive(std::size_t max,
                                             std::chrono::milliseconds timeout) = 0;
};

// Shutdown as the role sees it: asked for, and a wait that a request ends early.
class StopSignal {
  public:
    virtual ~StopSignal() = default;
    virtual bool requested() const = 0;
    // Waits until a stop is requested or `d` passes; returns requested().
    virtual bool wait_for(std::chrono::milliseconds d) = 0;
};

}  // namespace revalidator::worker
