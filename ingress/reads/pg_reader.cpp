#include "pg_reader.hpp"

#include <libpq-fe.h>

#include <condition_variable>
#include <mutex>
#include <vector>

#include "postgres/pg_conninfo.hpp"
#include "postgres/pg_deadline.hpp"
#include "postgres/sql.hpp"
#include "runtime/log.hpp"

namespace revalidator::ingress {

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
    std::vector<pg::Connection> idle;
    std::size_t open = 0;  // connections in use or idle, and connects under way
    bool failing = false;  // logged once per outage, not once per read

    // A connection for one read, or nullptr with `busy` set when none came free within the
    // timeout; or why a new connection could not be made.
    Result<pg::Connection, std::string> acquire(bool& busy) {
        std::unique_lock lock(mu);
        if (!freed.wait_for(lock, settings.timeout,
                            [&] { return !idle.empty() || open < settings.pool; })) {
            busy = true;
            return pg::Connection();
        }
        if (!idle.empty()) {
            auto c = std::move(idle.back());
            idle.pop_back();
            return c;
        }
        ++open;
        lock.unlock();
        auto c = connect();
        if (!c) release(nullptr);
        return c;
    }

    // A new read-only session. Connecting is bounded as libpq's connect_timeout would bound it,
    // a frozen server included.
    Result<pg::Connection, std::string> connect() const {
        auto c = pg::connect(conninfo, pg::Clock::now() + pg_connect_timeout(settings.timeout));
        if (!c) return c;
        auto r = pg::exec(c->get(), "SET default_transaction_read_only = on", {},
                          pg::Clock::now() + settings.timeout);
        if (!r) return Err(r.error());
        if (PQresultStatus(r->get()) != PGRES_COMMAND_OK) return Err(pg::message_of(r->get()));
        return c;
    }

    // Back to the pool; nullptr closes the slot (a connection that failed is never reused).
    void release(pg::Connection c) {
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
                      {{"collection", settings.collection}, {"error", error}});
        } else {
            log::info("reads: postgres available again", {{"collection", settings.collection}});
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
    auto acquired = impl_->acquire(busy);
    if (!acquired) return unavailable("cannot connect: " + acquired.error());
    if (busy) {
        return Err{DatabaseError{DatabaseError::Kind::Busy,
                                 "all " + std::to_string(impl_->settings.pool) +
                                     " read connections stayed busy for " +
                                     std::to_string(impl_->settings.timeout.count()) + " ms"}};
    }
    pg::Connection conn = std::move(*acquired);
    auto answer = pg::exec(conn.get(), impl_->query.c_str(), {id.c_str(), id.c_str()},
                           pg::Clock::now() + impl_->settings.timeout);
    if (!answer) {
        impl_->release(nullptr);
        return unavailable(answer.error());
    }
    const PGresult* r = answer->get();
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        std::optional<std::string> value;
        if (PQntuples(r) > 0) {
            value.emplace(PQgetvalue(r, 0, 0), static_cast<std::size_t>(PQgetlength(r, 0, 0)));
        }
        impl_->release(std::move(conn));
        impl_->note_outcome(true, {});
        return value;
    }
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state && std::string_view(state).starts_with("22")) {
        // A data exception: the key's type cannot hold this id (not a number, not a uuid, out
        // of range), so no row can have it. The connection is still good.
        impl_->release(std::move(conn));
        return std::optional<std::string>{};
    }
    std::string why = pg::message_of(r);
    impl_->release(PQstatus(conn.get()) == CONNECTION_OK ? std::move(conn) : nullptr);
    return unavailable(why);
}

}  // namespace revalidator::ingress
