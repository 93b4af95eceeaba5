#include "pg_conninfo.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <map>
#include <memory>
#include <stdexcept>

namespace revalidator {

namespace {

std::string secs(std::chrono::milliseconds ms, long at_least) {
    return std::to_string(std::max<long>(at_least, static_cast<long>((ms.count() + 999) / 1000)));
}

// libpq's quoting for a key=value string: single quotes, backslash before ' and \.
std::string quoted(const std::string& v) {
    std::string out = "'";
    for (char c : v) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

}  // namespace

std::chrono::seconds pg_connect_timeout(std::chrono::milliseconds network) {
    return std::max(std::chrono::seconds(2), std::chrono::ceil<std::chrono::seconds>(network));
}

std::string pg_conninfo(std::string_view url, const PgTimeouts& t) {
    char* err = nullptr;
    std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> parsed(
        PQconninfoParse(std::string(url).c_str(), &err), &PQconninfoFree);
    if (!parsed) {
        std::string why = err ? err : "out of memory";
        PQfreemem(err);
        while (!why.empty() && why.back() == '\n') why.pop_back();
        throw std::invalid_argument("cannot parse the Postgres URL: " + why);
    }
    // Keepalives: the first probe after half the budget, then three probes in the other half.
    const auto probe = std::chrono::milliseconds(t.network.count() / 6);
    std::map<std::string, std::string> params{
        {"connect_timeout", std::to_string(pg_connect_timeout(t.network).count())},
        {"keepalives", "1"},
        {"keepalives_idle", secs(t.network / 2, 1)},
        {"keepalives_interval", secs(probe, 1)},
        {"keepalives_count", "3"},
        {"tcp_user_timeout", std::to_string(t.network.count())},
    };
    std::string server =
        "-c tcp_keepalives_idle=" + secs(t.network / 2, 1) +
        " -c tcp_keepalives_interval=" + secs(probe, 1) +
        " -c tcp_keepalives_count=3 -c tcp_user_timeout=" + std::to_string(t.network.count());
    if (t.statement.count() > 0)
        server += " -c statement_timeout=" + std::to_string(t.statement.count());
    if (t.idle_session.count() > 0)
        server += " -c idle_session_timeout=" + std::to_string(t.idle_session.count());
    params["options"] = server;
    for (const PQconninfoOption* o = parsed.get(); o->keyword; ++o) {
        if (!o->val) continue;
        // The operator's server options come after ours, so theirs win (the last -c counts).
        if (std::string_view(o->keyword) == "options")
            params["options"] += std::string(" ") + o->val;
        else
            params[o->keyword] = o->val;
    }
    std::string out;
    for (const auto& [k, v] : params) out += (out.empty() ? "" : " ") + k + "=" + quoted(v);
    return out;
}

}  // namespace revalidator
