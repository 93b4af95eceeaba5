// The lease: one active worker per table. The active worker holds a Postgres session-level
// advisory lock on its own connection; a second worker for the same table waits as a hot standby
// and takes over when the lock frees, which happens as soon as the active worker's session ends
// (crash, kill -9, network loss). Only the lease holder binds the PULL socket, so events flow to
// the active worker alone (ingresses connect to every worker; ZMQ_IMMEDIATE skips unbound ones).
#pragma once

#include <memory>
#include <string>

namespace revalidator::worker {

class Lease {
  public:
    Lease(std::string url, std::string name);
    ~Lease();

    // Tries once to take the lock; false when another worker holds it or Postgres is away.
    bool try_acquire();
    // Whether the lock is still ours: a round trip on the lock's connection. A broken connection
    // means the lock is gone (Postgres dropped the session), and the standby may have it now.
    bool held();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace revalidator::worker
