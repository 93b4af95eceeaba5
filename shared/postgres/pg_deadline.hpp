// libpq with a deadline on every wait, for the connections whose server may freeze (the worker's
// lease session, the ingress's reads of rows the cache misses). libpq's blocking calls wait
// forever on a frozen server, whose kernel still accepts connections and acknowledges every byte,
// and the server's statement_timeout cannot fire while it is frozen; so connections are opened
// and statements run through libpq's non-blocking calls, each wait a poll() that ends at the
// caller's deadline.
//
// A failure here (the deadline passed, the connection broke) leaves the connection in no known
// state: it is closed, never reused. Nothing is cancelled: a cancel request needs a connection of
// its own to the same, perhaps frozen, server, and libpq's PQcancel waits for it without bound;
// closing the socket ends the session once the server runs again.
//
// This header does not include libpq; pg_deadline.cpp, an adapter, does.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "runtime/result.hpp"

struct pg_conn;    // libpq's PGconn
struct pg_result;  // libpq's PGresult

namespace revalidator::pg {

using Clock = std::chrono::steady_clock;

struct Close {
    void operator()(pg_conn* c) const;
};
using Connection = std::unique_ptr<pg_conn, Close>;

struct Clear {
    void operator()(pg_result* r) const;
};
using Answer = std::unique_ptr<pg_result, Clear>;

// A connection in non-blocking mode to `conninfo` (shared/postgres/pg_conninfo.hpp), or why none
// was made by `deadline`.
Result<Connection, std::string> connect(const std::string& conninfo, Clock::time_point deadline);

// Runs `sql`, whose $1, $2... are `params` (text), and waits for its answer until `deadline`.
// The statement's result, whose status may be an error the server reported (the connection then
// still works), or why there is none (the connection must then be closed).
Result<Answer, std::string> exec(pg_conn* c, const char* sql,
                                 const std::vector<const char*>& params,
                                 Clock::time_point deadline);

// The error the server reported in `r`, without libpq's trailing line break; empty when `r`
// reports none.
std::string message_of(const pg_result* r);

}  // namespace revalidator::pg
