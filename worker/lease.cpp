#include "lease.hpp"

#include <libpq-fe.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

#include "postgres/pg_conninfo.hpp"
#include "postgres/pg_deadline.hpp"
#include "runtime/log.hpp"
#include "runtime/result.hpp"

namespace revalidator::worker {

using Clock = std::chrono::steady_clock;
using namespace std::chrono;

namespace {

// The value of a one-row, one-column query, or "" for a command; or why there is none. A failure
// that is not the server's answer leaves the connection unusable (pg_deadline.hpp).
Result<std::string, std::string> query_by(PGconn* c, const char* sql, const std::string& param,
                                          Clock::time_point deadline) {
    std::vector<const char*> values;
    if (!param.empty()) values.push_back(param.c_str());
    auto answer = pg::exec(c, sql, values, deadline);
    if (!answer) return Err(answer.error());
    const PGresult* r = answer->get();
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 1) {
        return std::string(PQgetvalue(r, 0, 0));
    }
    if (PQresultStatus(r) == PGRES_COMMAND_OK) return std::string();
    std::string why = pg::message_of(r);
    return Err(why.empty() ? "no row" : why);
}

}  // namespace

struct Lease::Impl {
    LeaseOptions opts;
    std::string conninfo;
    milliseconds deadline;  // for one connect or query
    pg::Connection conn;
    std::atomic<bool> held{false};
    std::atomic<bool> repair_wanted{false};  // by this worker, of the active one
    std::atomic<bool> repair_asked{false};   // of this worker, by another one
    std::atomic<bool> other_holds{false};    // Postgres' last answer: another session holds it
    std::atomic<Clock::rep> fresh_until{0};  // Clock ticks: last renewal sent + ttl

    // Started by try_acquire and stopped by the next try_acquire or by release(), both on the
    // role's thread: its one owner (service.hpp). A renewer that lost the lock has ended on its
    // own, and is joined there too.
    std::jthread renewer;

    void close() { conn.reset(); }

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
            if (auto renewed = query_by(conn.get(), "SELECT 1", "", sent + deadline); !renewed) {
                lost(renewed.error());
                return;
            }
            fresh_until = (sent + opts.ttl).time_since_epoch().count();
            repair_wanted = false;  // the session never lapsed: no write came late
            take_notifications();
        }
    }

    void take_notifications() {
        bool asked = false;
        while (PGnotify* n = PQnotifies(conn.get())) {
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
    if (!impl_->conn) {
        if (auto c = pg::connect(impl_->conninfo, start + impl_->deadline)) {
            impl_->conn = std::move(*c);
        } else {
            error = c.error();
        }
    }
    if (impl_->conn && impl_->repair_wanted) {
        auto asked = query_by(impl_->conn.get(), "SELECT pg_notify('revalidator_repair', $1)::text",
                              impl_->opts.name, Clock::now() + impl_->deadline);
        if (asked) {
            impl_->repair_wanted = false;
            log::warn("asked the active worker to repair a write that may have come late",
                      {{"lease", impl_->opts.name}});
        } else {
            error = asked.error();
            impl_->close();
        }
    }
    if (impl_->conn) {
        auto sent = Clock::now();
        auto got =
            query_by(impl_->conn.get(), "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                     impl_->opts.name, sent + impl_->deadline);
        impl_->other_holds = got && *got == "f";
        if (got && *got == "t") {
            auto listening = query_by(impl_->conn.get(), "LISTEN revalidator_repair", "",
                                      sent + impl_->deadline);
            if (listening) {
                impl_->fresh_until = (sent + impl_->opts.ttl).time_since_epoch().count();
                impl_->held = true;
                impl_->renewer =
                    std::jthread([this, fields = log::scope_fields()](const std::stop_token& stop) {
                        const log::Scope scope(fields);
                        impl_->renew_loop(stop);
                    });
                return true;
            }
            error = listening.error();
            impl_->close();  // the session, and the lock with it
        } else if (!got) {
            error = got.error();
            impl_->close();
        }
    }
    if (!impl_->conn) impl_->other_holds = false;
    if (!error.empty())
        log::debug("lease not acquired", {{"lease", impl_->opts.name}, {"error", error}});
    return false;
}

bool Lease::held() const {
    return impl_->held;
}

bool Lease::held_elsewhere() const {
    return impl_->other_holds;
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
