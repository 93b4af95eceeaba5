// The read routes' Postgres adapter: answers a row the cache missed, read-only, through a small
// pool of connections (docs/read-api.md, "Reading Postgres on a miss"). The pool is the bound on a
// miss storm: a caller waits at most `timeout` for a connection, then hears Busy. Connections are
// opened on demand with the time bounds of shared/postgres/pg_conninfo.hpp (connect, keepalives,
// user and statement timeouts all `timeout`, at least 2 s for the connect), and every wait,
// connecting included, is bounded on this side too (shared/postgres/pg_deadline.hpp), since a
// frozen server enforces no timeout of its own: a frozen database costs a reader a bounded time,
// never a hung thread. A connection that failed or timed out is dropped, never reused. Sessions
// are read-only (default_transaction_read_only).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "config/table.hpp"
#include "database_reads.hpp"

namespace revalidator::ingress {

struct PgReaderSettings {
    std::string url;  // may name a replica (docs/read-api.md says what that implies)
    Table table;
    std::size_t pool = 4;
    std::chrono::milliseconds timeout{1000};
    std::string collection{};  // its name, in the lines the reader logs
};

class PgReader final : public DatabaseReads {
  public:
    // Throws std::invalid_argument when libpq cannot parse the URL. Connects on the first read.
    explicit PgReader(PgReaderSettings settings);
    ~PgReader() override;

    Result<std::optional<std::string>, DatabaseError> row(const std::string& id) override;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace revalidator::ingress
