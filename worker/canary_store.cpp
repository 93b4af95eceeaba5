#include "canary_store.hpp"

#include <libpq-fe.h>

#include <vector>

#include "postgres/pg_conninfo.hpp"
#include "postgres/pg_deadline.hpp"

namespace revalidator::worker {

namespace {

// The next beat, created with the row: a worker taking over goes on from its predecessor's.
constexpr const char* kWrite =
    "INSERT INTO revalidator.canary AS c (collection, beat, at) "
    "VALUES ($1, 1, clock_timestamp()) "
    "ON CONFLICT (collection) DO UPDATE SET beat = c.beat + 1, at = clock_timestamp() "
    "RETURNING c.beat, extract(epoch FROM c.at)";
constexpr const char* kRead = "SELECT beat FROM revalidator.canary WHERE collection = $1";

}  // namespace

struct PgCanaryStore::Impl {
    std::string conninfo;
    std::string name;
    std::chrono::milliseconds timeout;
    pg::Connection conn;

    // The answer's rows, or why there are none; a failure that is not the server's answer
    // closes the connection (pg_deadline.hpp).
    Result<pg::Answer, std::string> run(const char* sql) {
        const auto deadline = pg::Clock::now() + timeout;
        if (!conn) {
            auto c = pg::connect(conninfo, deadline);
            if (!c) return Err(c.error());
            conn = std::move(*c);
        }
        auto answer = pg::exec(conn.get(), sql, {name.c_str()}, deadline);
        if (!answer) {
            conn.reset();
            return Err(answer.error());
        }
        if (PQresultStatus(answer->get()) != PGRES_TUPLES_OK) {
            std::string why = pg::message_of(answer->get());
            return Err(why.empty() ? std::string("unexpected answer") : why);
        }
        if (PQntuples(answer->get()) != 1) return Err(std::string("no canary row for ") + name);
        return std::move(*answer);
    }
};

PgCanaryStore::PgCanaryStore(const std::string& url, std::string name,
                             std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
    impl_->conninfo = pg_conninfo(url, {.network = timeout, .statement = timeout});
    impl_->name = std::move(name);
    impl_->timeout = timeout;
}

PgCanaryStore::~PgCanaryStore() = default;

Result<CanaryBeat, std::string> PgCanaryStore::write() {
    auto answer = impl_->run(kWrite);
    if (!answer) return Err(answer.error());
    const PGresult* r = answer->get();
    return CanaryBeat{.beat = std::stoll(PQgetvalue(r, 0, 0)),
                      .at = std::stod(PQgetvalue(r, 0, 1))};
}

Result<std::int64_t, std::string> PgCanaryStore::read() {
    auto answer = impl_->run(kRead);
    if (!answer) return Err(answer.error());
    return static_cast<std::int64_t>(std::stoll(PQgetvalue(answer->get(), 0, 0)));
}

}  // namespace revalidator::worker
