#include "lease.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>

#include "postgres/pg_conninfo.hpp"
#include "runtime/log.hpp"

namespace revalidator::worker {

using Clock = std::chrono::steady_clock;
using namespace std::chrono;

namespace {

// Waits until the socket is ready for `events` or the deadline passes.
bool wait_socket(PGconn* c, short events, Clock::time_point deadline) {
    auto left = duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{PQsocket(c), events, 0};
    return poll(&p, 1, static_cast<int>(left)) > 0;
}

// libpq's own calls block on a silent server; these use its non-blocking API, so that every
// connect and query gives up at its deadline.
PGconn* connect_by(const std::string& conninfo, Clock::time_point deadline, std::string& error) {
    PGconn* c = PQconnectStart(conninfo.c_str());
    if (!c) {
        error = "out of memory";
        return nullptr;
    }
    for (auto st = PGRES_POLLING_WRITING;;) {
        if (PQstatus(c) == CONNECTION_BAD || st == PGRES_POLLING_FAILED) break;
        if (st == PGRES_POLLING_OK) {
            if (PQsetnonblocking(c, 1) == 0) return c;
            break;
        }
        if (!wait_socket(c, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline)) {
            error = "connect timed out";
            PQfinish(c);
            return nullptr;
        }
        st = PQconnectPoll(c);
    }
    error = PQerrorMessage(c);
    PQfinish(c);
    return nullptr;
}

// Runs a one-row, one-column query (or a command: the value is then empty); the value, or
// nullopt on failure or at the deadline (the connection is then unusable).
std::optional<std::string> query_by(PGconn* c, const char* sql, const std::string& param,
                                    Clock::time_point deadline, std::string& error) {
    const char* values[] = {param.c_str()};
    if (!PQsendQueryParams(c, sql, param.empty() ? 0 : 1, nullptr, values, nullptr, nullptr, 0)) {
        error = PQerrorMessage(c);
        return std::nullopt;
    }
    for (int f; (f = PQflush(c)) != 0;) {
        if (f < 0 || !wait_socket(c, POLLOUT, deadline)) {
            error = f < 0 ? PQerrorMessage(c) : "query timed out";
            return std::nullopt;
        }
    }
    std::optional<std::string> value;
    error.clear();
    while (true) {
        while (PQisBusy(c)) {
            if (!wait_socket(c, POLLIN, deadline)) {
                error = "query timed out";
                return std::nullopt;
            }
            if (!PQconsumeInput(c)) {
                error = PQerrorMessage(c);
                return std::nullopt;
            }
        }
        PGresult* r = PQgetResult(c);
        if (!r) break;
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 1)
            value = PQgetvalue(r, 0, 0);
        else if (PQresultStatus(r) == PGRES_COMMAND_OK)
            value = "";
        else if (error.empty())
            error = PQresultErrorMessage(r);
        PQclear(r);
    }
    if (!value && error.empty()) error = "no row";
    return value;
}

}  // namespace

struct Lease::Impl {
    LeaseOptions opts;
    std::string conninfo;
    milliseconds deadline;  // for one connect or query
    PGconn* conn = nullptr;
    std::atomic<bool> held{false};
    std::atomic<bool> repair_wanted{false};  // by this worker, of the active one
    std::atomic<bool> repair_asked{false};   // of this worker, by another one
    std::atomic<Clock::rep> fresh_until{0};  // Clock ticks: last renewal sent + ttl

    // Started by try_acquire and stopped by the next try_acquire or by release(), both on the
    // role's thread: its one owner (service.hpp). A renewer that lost the lock has ended on its
    // own, and is joined there too.
    std::jthread renewer;

    void close() {
        if (conn) PQfinish(conn);
        conn = nullptr;
    }

    void lost(const std::string& why) {
        held = false;
        fresh_until = 0;
        close();
        log::error("lease lost", {{"lease", opts.name}, {"error", why}});
    }

    void renew_loop(const std::stop_token& stop) {
        std::mutex mu;
        std::condition_variable_any wake;
        std::unique_lock lock(mu);
        while (!wake.wait_for(lock, stop, opts.ttl / 4, [&] { return stop.stop_requested(); })) {
            auto sent = Clock::now();
            std::string error;
            if (!query_by(conn, "SELECT 1", "", sent + deadline, error)) {
                lost(error);
                return;
            }
            fresh_until = (sent + opts.ttl).time_since_epoch().count();
            repair_wanted = false;  // the session never lapsed: no write came late
            take_notifications();
        }
    }

    void take_notifications() {
        bool asked = false;
        while (PGnotify* n = PQnotifies(conn)) {
            asked |= opts.name == n->extra;
            PQfreemem(n);
        }
        if (asked) {
            log::warn("a worker that lost the lease may have written late; resyncing",
                      {{"lease", opts.name}});
            repair_asked = true;
        }
    }

    void stop_renewing() {
        if (!renewer.joinable()) return;
        renewer.request_stop();
        renewer.join();
    }
};

Lease::Lease(LeaseOptions opts) : impl_(std::make_unique<Impl>()) {
    impl_->opts = std::move(opts);
    impl_->deadline = std::min(impl_->opts.network, impl_->opts.ttl / 4);
    impl_->conninfo = pg_conninfo(impl_->opts.url, {.network = impl_->opts.network,
                                                    .statement = impl_->deadline,
                                                    .idle_session = impl_->opts.ttl});
}

Lease::~Lease() {
    release();
}

bool Lease::try_acquire() {
    if (impl_->held) return true;
    impl_->stop_renewing();  // a renewer that lost the lock has exited; reap it
    std::string error;
    auto start = Clock::now();
    if (!impl_->conn) impl_->conn = connect_by(impl_->conninfo, start + impl_->deadline, error);
    if (impl_->conn && impl_->repair_wanted) {
        if (query_by(impl_->conn, "SELECT pg_notify('revalidator_repair', $1)::text",
                     impl_->opts.name, Clock::now() + impl_->deadline, error)) {
            impl_->repair_wanted = false;
            log::warn("asked the active worker to repair a write that may have come late",
                      {{"lease", impl_->opts.name}});
        } else {
            impl_->close();
        }
    }
    if (impl_->conn) {
        auto sent = Clock::now();
        auto got = query_by(impl_->conn, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                            impl_->opts.name, sent + impl_->deadline, error);
        if (got && *got == "t" &&
            !query_by(impl_->conn, "LISTEN revalidator_repair", "", sent + impl_->deadline,
                      error)) {
            impl_->close();  // the session, and the lock with it
            got.reset();
        }
        if (got && *got == "t") {
            impl_->fresh_until = (sent + impl_->opts.ttl).time_since_epoch().count();
            impl_->held = true;
            impl_->renewer =
                std::jthread([this](const std::stop_token& stop) { impl_->renew_loop(stop); });
            return true;
        }
        if (!got) impl_->close();
    }
    if (!error.empty())
        log::debug("lease not acquired", {{"lease", impl_->opts.name}, {"error", error}});
    return false;
}

bool Lease::held() const {
    return impl_->held;
}

bool Lease::fresh_for(milliseconds duration) const {
    auto until = Clock::time_point(Clock::duration(impl_->fresh_until.load()));
    return impl_->held && Clock::now() + duration < until;
}

void Lease::request_repair() {
    impl_->repair_wanted = true;
}

bool Lease::take_repair_request() {
    return impl_->repair_asked.exchange(false);
}

void Lease::release() {
    impl_->stop_renewing();
    impl_->held = false;
    impl_->fresh_until = 0;
    impl_->close();
}

}  // namespace revalidator::worker
