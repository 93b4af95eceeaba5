#include "pg_deadline.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>

namespace revalidator::pg {

namespace {

std::string trimmed(std::string m) {
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
}

std::string failure(const PGconn* c) {
    std::string m = trimmed(PQerrorMessage(c));
    return m.empty() ? "unknown error" : m;
}

// Whether the socket of `c` became ready for `events` before `deadline`.
bool wait_for(PGconn* c, short events, Clock::time_point deadline) {
    while (true) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        pollfd p{PQsocket(c), events, 0};
        const int ready = poll(&p, 1, static_cast<int>(left.count()));
        if (ready > 0) return true;
        if (ready == 0 || errno != EINTR) return false;
    }
}

}  // namespace

void Close::operator()(pg_conn* c) const {
    PQfinish(c);
}

void Clear::operator()(pg_result* r) const {
    PQclear(r);
}

Result<Connection, std::string> connect(const std::string& conninfo, Clock::time_point deadline) {
    Connection c(PQconnectStart(conninfo.c_str()));
    if (!c) return Err("out of memory");
    for (auto st = PGRES_POLLING_WRITING;;) {
        if (PQstatus(c.get()) == CONNECTION_BAD || st == PGRES_POLLING_FAILED) {
            return Err(failure(c.get()));
        }
        if (st == PGRES_POLLING_OK) {
            if (PQsetnonblocking(c.get(), 1) != 0) return Err(failure(c.get()));
            return c;
        }
        if (!wait_for(c.get(), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline)) {
            return Err("connect timed out");
        }
        st = PQconnectPoll(c.get());
    }
}

Result<Answer, std::string> exec(pg_conn* c, const char* sql,
                                 const std::vector<const char*>& params,
                                 Clock::time_point deadline) {
    if (!PQsendQueryParams(c, sql, static_cast<int>(params.size()), nullptr, params.data(), nullptr,
                           nullptr, 0)) {
        return Err(failure(c));
    }
    // What the server sends meanwhile is read, so that neither side waits on the other's full
    // buffer (libpq's own advice for a non-blocking send).
    for (int left; (left = PQflush(c)) != 0;) {
        if (left < 0) return Err(failure(c));
        if (!wait_for(c, POLLIN | POLLOUT, deadline)) return Err("timed out sending the query");
        if (!PQconsumeInput(c)) return Err(failure(c));
    }
    // PQgetResult blocks while libpq is busy, so each result, and the end after the last, is
    // waited for here first.
    Answer last;
    while (true) {
        while (PQisBusy(c)) {
            if (!wait_for(c, POLLIN, deadline)) return Err("timed out waiting for the answer");
            if (!PQconsumeInput(c)) return Err(failure(c));
        }
        PGresult* r = PQgetResult(c);
        if (!r) break;
        last.reset(r);
    }
    if (!last) return Err(failure(c));
    return last;
}

std::string message_of(const pg_result* r) {
    return trimmed(PQresultErrorMessage(r));
}

}  // namespace revalidator::pg
