// The lease: one active worker per table, and a bound on how long a worker that lost it can still
// write (docs/operations.md, "One writer, fenced").
//
// The active worker holds a Postgres session-level advisory lock on a session of its own, opened
// with idle_session_timeout = ttl: Postgres ends the session, and so frees the lock, once the
// holder has sent nothing for `ttl`, whether the holder died, froze (SIGSTOP, a long GC-like
// pause) or was cut off by the network. A thread renews the session every ttl/4 with a query
// bounded by a deadline. Each renewal sent at time t that succeeds proves that the server cannot
// free the lock before t + ttl, so writes are allowed only while now + (the longest a write can
// take) < t + ttl: a worker whose lease may have ended stops writing before a standby can take the
// lock. A standby polls for the lock every 500 ms.
//
// What no check can prevent: a process paused between its last check and the write's send (a few
// microseconds) sends that one write when it resumes, possibly after a standby took over. The
// sink notices (the gate closed during the write) and calls request_repair(); the next time this
// worker reaches Postgres it sends NOTIFY revalidator_repair with the lease's name, and the active
// worker for the same table, which LISTENs on its lease session, resyncs the table: such a write
// is undone within about ttl/4 plus one resync.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "role_interfaces.hpp"

namespace revalidator::worker {

struct LeaseOptions {
    std::string url;   // libpq URL or key=value string
    std::string name;  // the lock's name: one per table
    std::chrono::milliseconds ttl{5000};
    std::chrono::milliseconds network{10'000};  // connect and query deadline (capped at ttl/4)
};

class Lease : public TableLease {
  public:
    explicit Lease(LeaseOptions opts);
    ~Lease() override;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    // Tries once to take the lock; false when another worker holds it or Postgres is away.
    // On success, renewal starts in the background.
    bool try_acquire() override;
    // Whether the lock is still ours as far as renewal knows; false from the first failed renewal.
    bool held() const override;
    // Thread-safe. Whether Postgres answered the last try that another worker holds the lock:
    // this worker is a standby that reaches Postgres.
    bool held_elsewhere() const;
    // Whether a write that takes at most `duration` and starts now ends before the server could
    // have freed the lock. Thread-safe and cheap: it reads the last renewal's time.
    bool fresh_for(std::chrono::milliseconds duration) const;
    // Gives the lock up (closes the session) and stops renewing.
    void release() override;
    // Thread-safe. Asks the table's active worker to resync, at this worker's next contact with
    // Postgres; forgotten if a renewal then proves the session, and so the lock, never lapsed.
    void request_repair();
    // Thread-safe. Whether, since the last call, a worker of the same table asked this one (while
    // it held the lease) for a repair.
    bool take_repair_request() override;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace revalidator::worker
