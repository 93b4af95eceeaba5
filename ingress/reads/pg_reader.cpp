#include "pg_reader.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <condition_variable>
#include <mutex>
#include <vector>

#include "postgres/pg_conninfo.hpp"
#include "postgres/sql.hpp"
#include "runtime/log.hpp"

namespace revalidator::ingress {

namespace {

using Clock = std::chrono::steady_clock;

struct ConnCloser {
    void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, ConnCloser>;

struct ResultFree {
    void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultFree>;

std::string message_of(PGconn* c) {
    std::string m = PQerrorMessage(c);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m.empty() ? "unknown error" : m;
}

// One statement, its wait bounded by `deadline` on this side of the socket: libpq's blocking calls
// would wait forever on a frozen server, whose kernel still acknowledges every byte, and the
// server's statement_timeout cannot fire while it is frozen. Returns the last result, or throws
// std::runtime_error when the connection must be dropped (deadline, broken).
PgResult exec(PGconn* c, const char* query, const std::vector<const char*>& params,
              Clock::time_point deadline) {
    if (!PQsendQueryParams(c, query, static_cast<int>(params.size()), nullptr, params.data(),
                           nullptr, nullptr, 0)) {
        throw std::runtime_error(message_of(c));
    }
    while (PQflush(c) == 1) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd p{PQsocket(c), POLLIN | POLLOUT, 0};
        if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) == 0) {
            throw std::runtime_error("timed out sending the query");
        }
        if (!PQconsumeInput(c)) throw std::runtime_error(message_of(c));
    }
    while (PQisBusy(c)) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd p{PQsocket(c), POLLIN, 0};
        if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) == 0) {
            throw std::runtime_error("timed out waiting for the answer");
        }
        if (!PQconsumeInput(c)) throw std::runtime_error(message_of(c));
    }
    PgResult last;
    while (PGresult* r = PQgetResult(c)) last.reset(r);
    if (!last) throw std::runtime_error(message_of(c));
    return last;
}

}  // namespace

struct PgReader::Impl {
    explicit Impl(PgReaderSettings s)
        : settings(std::move(s)),
          conninfo(pg_conninfo(settings.url,
                               {.network = settings.timeout, .statement = settings.timeout})),
          query(sql::one_row(settings.table.schema, settings.table.name,
                             settings.table.primary_key)) {}

    PgReaderSettings settings;
    std::string conninfo;
    std::string query;

    std::mutex mu;
    std::condition_variable freed;
    std::vector<Conn> idle;
    std::size_t open = 0;  // connections in use or idle, and connects under way
    bool failing = false;  // logged once per outage, not once per read

    // A connection for one read, or nullptr with `busy` set when none came free within the
    // timeout. Throws std::runtime_error when a new connection cannot be made.
    Conn acquire(bool& busy) {
        std::unique_lock lock(mu);
        if (!freed.wait_for(lock, settings.timeout,
                            [&] { return !idle.empty() || open < settings.pool; })) {
            busy = true;
            return nullptr;
        }
        if (!idle.empty()) {
            auto c = std::move(idle.back());
            idle.pop_back();
            return c;
        }
        ++open;
        lock.unlock();
        // connect_timeout (in the conninfo) bounds this, a frozen server included.
        Conn c(PQconnectdb(conninfo.c_str()));
        try {
            if (!c || PQstatus(c.get()) != CONNECTION_OK) {
                throw std::runtime_error(c ? message_of(c.get()) : "out of memory");
            }
            auto r = exec(c.get(), "SET default_transaction_read_only = on", {},
                          Clock::now() + settings.timeout);
            if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
                throw std::runtime_error(PQresultErrorMessage(r.get()));
            }
        } catch (...) {
            release(nullptr);
            throw;
        }
        return c;
    }

    // Back to the pool; nullptr closes the slot (a connection that failed is never reused).
    void release(Conn c) {
        {
            std::lock_guard lock(mu);
            if (c) {
                idle.push_back(std::move(c));
            } else {
                --open;
            }
        }
        freed.notify_one();
    }

    void note_outcome(bool ok, const std::string& error) {
        std::lock_guard lock(mu);
        if (ok == !failing) return;
        failing = !ok;
        if (failing) {
            log::warn("reads: postgres unavailable; misses wait for the worker's fill",
                      {{"error", error}});
        } else {
            log::info("reads: postgres available again");
        }
    }
};

PgReader::PgReader(PgReaderSettings settings)
    : impl_(std::make_unique<Impl>(std::move(settings))) {}

PgReader::~PgReader() = default;

Result<std::optional<std::string>, DatabaseError> PgReader::row(const std::string& id) {
    auto unavailable = [&](const std::string& why) {
        impl_->note_outcome(false, why);
        return Err{DatabaseError{DatabaseError::Kind::Unavailable, why}};
    };
    bool busy = false;
    Conn conn;
    try {
        conn = impl_->acquire(busy);
    } catch (const std::exception& e) {
        return unavailable(std::string("cannot connect: ") + e.what());
    }
    if (busy) {
        return Err{DatabaseError{DatabaseError::Kind::Busy,
                                 "all " + std::to_string(impl_->settings.pool) +
                                     " read connections stayed busy for " +
                                     std::to_string(impl_->settings.timeout.count()) + " ms"}};
    }
    PgResult r;
    try {
        r = exec(conn.get(), impl_->query.c_str(), {id.c_str(), id.c_str()},
                 Clock::now() + impl_->settings.timeout);
    } catch (const std::exception& e) {
        impl_->release(nullptr);
        return unavailable(e.what());
    }
    if (PQresultStatus(r.get()) == PGRES_TUPLES_OK) {
        std::optional<std::string> value;
        if (PQntuples(r.get()) > 0) {
            value.emplace(PQgetvalue(r.get(), 0, 0),
                          static_cast<std::size_t>(PQgetlength(r.get(), 0, 0)));
        }
        impl_->release(std::move(conn));
        impl_->note_outcome(true, {});
        return value;
    }
    const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
    if (state && std::string_view(state).starts_with("22")) {
        // A data exception: the key's type cannot hold this id (not a number, not a uuid, out
        // of range), so no row can have it. The connection is still good.
        impl_->release(std::move(conn));
        return std::optional<std::string>{};
    }
    std::string why = PQresultErrorMessage(r.get());
    while (!why.empty() && why.back() == '\n') why.pop_back();
    impl_->release(PQstatus(conn.get()) == CONNECTION_OK ? std::move(conn) : nullptr);
    return unavailable(why);
}

}  // namespace revalidator::ingress
