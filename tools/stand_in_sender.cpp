// revalidator-stand-in-sender: what pg_net does for a Database Webhook, where no pg_net exists
// (the tests, scripts/run, scripts/cluster). The trigger of schema/stand_in_sender.sql queues each
// row change, as the body Supabase sends, in revalidator.webhook_queue and notifies; this process
// takes the queued bodies in order once they are committed, deleting them as it takes them, and
// POSTs each one once (at most once, as pg_net: a failure is logged, never retried), with
// pg_net's default timeout of 1 s. What it does not model: docs/operations.md, "The stand-in
// sender".
//
// Usage: revalidator-stand-in-sender --postgres-url URL --url http[s]://HOST:PORT/revalidate
//          [--secret SECRET] [--timeout-ms 1000] [--ca-file PEM]
// Each option may come from REVALIDATOR_SENDER_POSTGRES_URL, _URL, _SECRET, _TIMEOUT_MS, _CA_FILE.
// An https URL's certificate is always verified, against --ca-file when given (a balancer with a
// certificate of its own, as scripts/cluster's), else against the system's CAs.
// SIGTERM or SIGINT ends it (exit 0) within a Postgres deadline or one POST's timeout.
#include <httplib.h>
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "postgres/pg_conninfo.hpp"
#include "postgres/pg_deadline.hpp"

namespace {

using namespace std::chrono;
using revalidator::pg::Clock;

std::atomic<bool> stopping{false};

// Bodies taken at once; the rest wait for the next round.
constexpr const char* kTake =
    "DELETE FROM revalidator.webhook_queue WHERE id IN ("
    "SELECT id FROM revalidator.webhook_queue ORDER BY id LIMIT 500 FOR UPDATE SKIP LOCKED) "
    "RETURNING id, body::text";
constexpr milliseconds kPgDeadline{5000};

void say(const std::string& what, const std::string& detail = {}) {
    std::cerr << R"({"process":"stand-in-sender","msg":")" << what << R"(","detail":")" << detail
              << "\"}\n";
}

struct Options {
    std::string postgres_url = "postgresql://postgres@127.0.0.1:5432/postgres";
    std::string url = "http://127.0.0.1:8080/revalidate";
    std::string secret;
    std::string ca_file;
    int timeout_ms = 1000;  // pg_net's default timeout_milliseconds
};

bool parse(int argc, char** argv, Options& o) {
    std::map<std::string, std::string*> text = {{"--postgres-url", &o.postgres_url},
                                                {"--url", &o.url},
                                                {"--secret", &o.secret},
                                                {"--ca-file", &o.ca_file}};
    const std::map<std::string, std::string> env = {{"--postgres-url", "POSTGRES_URL"},
                                                    {"--url", "URL"},
                                                    {"--secret", "SECRET"},
                                                    {"--timeout-ms", "TIMEOUT_MS"},
                                                    {"--ca-file", "CA_FILE"}};
    std::string timeout = std::to_string(o.timeout_ms);
    text["--timeout-ms"] = &timeout;
    for (const auto& [flag, var] : env) {
        if (const char* v = std::getenv(("REVALIDATOR_SENDER_" + var).c_str())) *text[flag] = v;
    }
    for (int i = 1; i < argc; ++i) {
        auto it = text.find(argv[i]);
        if (it == text.end() || i + 1 == argc) {
            std::cerr << "usage: revalidator-stand-in-sender --postgres-url URL --url "
                         "http[s]://HOST:PORT/revalidate [--secret SECRET] [--timeout-ms 1000] "
                         "[--ca-file PEM]\n";
            return false;
        }
        *it->second = argv[++i];
    }
    o.timeout_ms = std::atoi(timeout.c_str());
    return o.timeout_ms > 0;
}

// Why a statement failed, or "" when it answered `want`.
std::string run(pg_conn* c, const char* sql, ExecStatusType want, revalidator::pg::Answer* out) {
    auto answer = revalidator::pg::exec(c, sql, {}, Clock::now() + kPgDeadline);
    if (!answer) return answer.error();
    if (PQresultStatus(answer->get()) != want) {
        std::string why = revalidator::pg::message_of(answer->get());
        return why.empty() ? "unexpected answer" : why;
    }
    if (out) *out = std::move(*answer);
    return {};
}

class Sender {
  public:
    explicit Sender(const Options& o) : o_(o) {
        // Split http://host:port/path into httplib's client and the path.
        const auto scheme_end = o.url.find("://");
        const auto path_start =
            o.url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
        base_ = o.url.substr(0, path_start);
        path_ = path_start == std::string::npos ? "/" : o.url.substr(path_start);
    }

    // Posts each body once; true when it was acknowledged with a 2xx.
    bool post(const std::string& body) {
        httplib::Client client(base_);
        client.enable_server_certificate_verification(true);
        if (!o_.ca_file.empty()) client.set_ca_cert_path(o_.ca_file);
        const auto t = milliseconds(o_.timeout_ms);
        client.set_connection_timeout(t);
        client.set_read_timeout(t);
        client.set_write_timeout(t);
        httplib::Headers headers;
        if (!o_.secret.empty()) headers.emplace("Authorization", "Bearer " + o_.secret);
        auto res = client.Post(path_, headers, body, "application/json");
        if (!res) {
            say("webhook lost", httplib::to_string(res.error()));
            return false;
        }
        if (res->status / 100 != 2) {
            say("webhook refused", std::to_string(res->status));
            return false;
        }
        return true;
    }

  private:
    const Options& o_;
    std::string base_, path_;
};

// One session: LISTEN, then take and send until a failure of Postgres or a stop.
void session(const Options& o, const std::string& conninfo, Sender& sender) {
    auto conn = revalidator::pg::connect(conninfo, Clock::now() + kPgDeadline);
    if (!conn) return say("cannot connect", conn.error());
    if (auto why = run(conn->get(), "LISTEN revalidator_webhook_queue", PGRES_COMMAND_OK, nullptr);
        !why.empty()) {
        return say("cannot listen", why);
    }
    say("sending", o.url);
    while (!stopping) {
        revalidator::pg::Answer taken;
        if (auto why = run(conn->get(), kTake, PGRES_TUPLES_OK, &taken); !why.empty()) {
            return say("cannot take the queue", why);
        }
        std::vector<std::pair<long long, std::string>> bodies;
        for (int i = 0; i < PQntuples(taken.get()); ++i) {
            bodies.emplace_back(std::atoll(PQgetvalue(taken.get(), i, 0)),
                                PQgetvalue(taken.get(), i, 1));
        }
        std::sort(bodies.begin(), bodies.end());
        for (const auto& body : bodies) sender.post(body.second);
        if (!bodies.empty()) continue;
        // Nothing queued: wait for a notification, looking again now and then all the same.
        pollfd p{PQsocket(conn->get()), POLLIN, 0};
        if (poll(&p, 1, 200) > 0 && PQconsumeInput(conn->get()) == 0) {
            return say("connection lost", PQerrorMessage(conn->get()));
        }
        while (PGnotify* n = PQnotifies(conn->get())) PQfreemem(n);
    }
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (!parse(argc, argv, o)) return 64;
    std::signal(SIGTERM, [](int) { stopping = true; });
    std::signal(SIGINT, [](int) { stopping = true; });
    std::signal(SIGPIPE, SIG_IGN);
    std::string conninfo;
    try {
        conninfo = revalidator::pg_conninfo(o.postgres_url,
                                            {.network = kPgDeadline, .statement = kPgDeadline});
    } catch (const std::invalid_argument& e) {
        std::cerr << "revalidator-stand-in-sender: --postgres-url: " << e.what() << "\n";
        return 64;
    }
    Sender sender(o);
    while (!stopping) {
        session(o, conninfo, sender);
        for (int i = 0; i < 5 && !stopping; ++i) std::this_thread::sleep_for(milliseconds(100));
    }
    return 0;
}
