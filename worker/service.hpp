// The worker process once configured: builds the parts of each served table (table_worker.hpp)
// and the admin server, runs each table's standby/active role until SIGTERM or SIGINT, and returns
// the process's exit code (docs/operations.md, "One writer, fenced").
#pragma once

#include "worker_config.hpp"

namespace revalidator::worker {

int run(const Config& cfg);

// --verify (verify.hpp): compares the cache with Postgres once for each served table, writing
// nothing, and prints the reports. Exit code 0 when they are equal, 1 when something differs, 2
// when either could not be read.
int verify_once(const Config& cfg);

}  // namespace revalidator::worker
