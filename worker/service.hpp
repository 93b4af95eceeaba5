// The worker process once configured: builds the parts of each served table (table_worker.hpp)
// and the admin server, runs each table's standby/active role until SIGTERM or SIGINT, and returns
// the process's exit code (docs/operations.md, "One writer, fenced").
//
// Threads and their owners (docs/operations.md, "Shutdown"). run()'s thread owns the admin
// server's thread (which owns the server's loops and pool) and one role thread per table, and
// alone stops them, once the stop is requested (the signal thread of shutdown.hpp only raises the
// request, and runs no worker code): first the admin server, then each role, which finishes its
// batch and releases its lease (that joins the lease's renewer), and then its table's canary
// thread, if any (canary.hpp: after at most one Postgres call, bounded by --pg-timeout-ms), then
// the admin thread. The
// tables' parts are destroyed after that, each TableWorker in reverse order of its members: the
// anti-entropy pass waits for its reading and listing threads, whose connections outlive them.
#pragma once

#include "worker_config.hpp"

namespace revalidator::worker {

int run(const Config& cfg);

// --verify (verify.hpp): compares the cache with Postgres once for each served table, writing
// nothing, and prints the reports. Exit code 0 when they are equal, 1 when something differs, 2
// when either could not be read.
int verify_once(const Config& cfg);

}  // namespace revalidator::worker
