// The worker process once configured: builds its parts (lease, Postgres source, Memcached sink,
// applier, loop, role, admin server), runs the standby/active role until SIGTERM or SIGINT, and
// returns the process's exit code (docs/operations.md, "One writer, fenced").
#pragma once

#include "worker_config.hpp"

namespace revalidator::worker {

int run(const Config& cfg);

// --verify (verify.hpp): compares the cache with Postgres once, writing nothing, and prints the
// report. Exit code 0 when they are equal, 1 when something differs, 2 when either could not be
// read.
int verify_once(const Config& cfg);

}  // namespace revalidator::worker
