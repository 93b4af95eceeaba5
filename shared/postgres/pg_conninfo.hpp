// Every Postgres connection the worker opens has bounded waits, so that a network partition or a
// frozen peer ends in an error within a known time rather than in minutes of TCP retransmits or
// hours of a dead session holding the table's lease (docs/operations.md, "One writer, fenced:
// takeover and its time bounds").
// - connect: libpq's connect_timeout;
// - client side: TCP keepalives and tcp_user_timeout, so a silent peer is noticed;
// - server side (sent as `options`): the same keepalives and user timeout for the server's end of
//   the socket, statement_timeout, and, for the lease, idle_session_timeout: the session (and
//   its advisory lock) ends when the holder stops renewing, whatever happened to it.
// Settings in the operator's URL win over these defaults.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace revalidator {

struct PgTimeouts {
    std::chrono::milliseconds network{10'000};    // connect, and a silent peer declared dead
    std::chrono::milliseconds statement{30'000};  // 0: no statement_timeout
    std::chrono::milliseconds idle_session{0};    // 0: sessions may idle forever
};

// A libpq key=value connection string: `url` (a URL or key=value string) with the timeouts added.
// Throws std::invalid_argument when libpq cannot parse `url`.
std::string pg_conninfo(std::string_view url, const PgTimeouts& timeouts);

// The connect_timeout pg_conninfo gives a `network` bound: whole seconds, rounded up, and at least
// 2, the least libpq takes. A connect made with a deadline of its own (pg_deadline.hpp) that must
// keep the same bound waits this long.
std::chrono::seconds pg_connect_timeout(std::chrono::milliseconds network);

}  // namespace revalidator
