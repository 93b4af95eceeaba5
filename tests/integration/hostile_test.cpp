// Hostile input over real HTTP: every request here is refused with the exact status and
// error code, nothing reaches the worker, the cache is unchanged, and both processes live on.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ctime>

#include "raw_http.hpp"
#include "stack.hpp"
#include "webhook_signer.hpp"

using namespace revalidator::testing;
using nlohmann::json;
using revalidator::ingress::testing::sign;

namespace {

const std::string kSigning = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

std::string post(const std::string& headers, const std::string& body) {
    return "POST /revalidate HTTP/1.1\r\nHost: t\r\n" + headers +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string kJson = "Content-Type: application/json\r\n";
const std::string kBearer = std::string("Authorization: Bearer ") + kSecret + "\r\n";
const std::string kUpdate =
    R"({"type":"UPDATE","table":"articles","schema":"public","record":{"id":1},"old_record":null})";

std::string signed_headers(const std::string& id, long ts, const std::string& body,
                           const std::string& secret = kSigning) {
    std::string t = std::to_string(ts);
    return "webhook-id: " + id + "\r\nwebhook-timestamp: " + t +
           "\r\nwebhook-signature: " + sign(secret, id, t, body) + "\r\n";
}

struct Case {
    const char* name;
    std::string request;
    int status;
    const char* code;
};

}  // namespace

TEST(Hostile, EveryAttackIsRefusedPreciselyAndChangesNothing) {
    // The anti-entropy pass would bring Postgres' changes in by itself: off, so that only an
    // event that got through could.
    Stack s({.worker_args = {"--verify-rate", "0"},
             .ingress_args = {"--signing-secret", kSigning, "--request-timeout-s", "1"}});
    ASSERT_TRUE(s.list_converges());
    auto snapshot = [&] {
        std::vector<std::optional<std::string>> v{s.cache_get("/articles")};
        for (int id = 1; id <= 5; ++id) v.push_back(s.cache_get("/articles/" + std::to_string(id)));
        return v;
    };
    const auto before = snapshot();
    // Postgres changes behind the cache's back: any event that got through would show in it.
    s.sql("UPDATE public.articles SET title = 'must not reach the cache'");

    const long now = static_cast<long>(std::time(nullptr));
    std::string deep(100000, '[');
    std::string chunked = "POST /revalidate HTTP/1.1\r\nHost: t\r\n" + kJson + kBearer +
                          "Transfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 40; ++i) chunked += "10000\r\n" + std::string(0x10000, ' ') + "\r\n";
    chunked += "0\r\n\r\n";
    std::string flood;
    for (int i = 0; i < 5000; ++i) flood += "X-Flood-" + std::to_string(i) + ": y\r\n";

    const std::vector<Case> cases = {
        {"no credentials", post(kJson, kUpdate), 401, "unauthorized"},
        {"wrong bearer", post(kJson + "Authorization: Bearer guess\r\n", kUpdate), 401,
         "unauthorized"},
        {"bad signature",
         post(kJson +
                  signed_headers("msg_1", now, kUpdate, "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
              kUpdate),
         401, "unauthorized"},
        {"body altered after signing",
         post(kJson + signed_headers("msg_2", now, kUpdate), kUpdate + " "), 401, "unauthorized"},
        {"timestamp an hour old",
         post(kJson + signed_headers("msg_3", now - 3600, kUpdate), kUpdate), 401, "unauthorized"},
        {"timestamp an hour ahead",
         post(kJson + signed_headers("msg_4", now + 3600, kUpdate), kUpdate), 401, "unauthorized"},
        {"malformed timestamp",
         post(kJson + "webhook-id: m\r\nwebhook-timestamp: soon\r\nwebhook-signature: v1,AAAA\r\n",
              kUpdate),
         401, "unauthorized"},
        {"truncated body, never completed",
         "POST /revalidate HTTP/1.1\r\nHost: t\r\n" + kJson + kBearer +
             "Content-Length: 100\r\n\r\n{\"type\":",
         408, "request_timeout"},
        {"headers never completed", "POST /revalidate HTTP/1.1\r\nHost: t\r\nX-Slow: ", 408,
         "request_timeout"},
        {"Content-Length and chunked at once (smuggling)",
         "POST /revalidate HTTP/1.1\r\nHost: t\r\n" + kJson + kBearer +
             "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         400, "bad_request"},
        {"two different Content-Lengths",
         "POST /revalidate HTTP/1.1\r\nHost: t\r\n" + kJson + kBearer +
             "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
         400, "bad_request"},
        {"unsupported Transfer-Encoding",
         "POST /revalidate HTTP/1.1\r\nHost: t\r\n" + kJson + kBearer +
             "Transfer-Encoding: gzip\r\n\r\n",
         400, "bad_request"},
        {"bare LF line endings", "POST /revalidate HTTP/1.1\nHost: t\n\n", 400, "bad_request"},
        {"gigantic Content-Length",
         "POST /revalidate HTTP/1.1\r\nHost: t\r\n" + kJson + kBearer +
             "Content-Length: 10000000000\r\n\r\n",
         413, "payload_too_large"},
        {"gigantic chunked body", chunked, 413, "payload_too_large"},
        {"deep nesting", post(kJson + kBearer, deep), 400, "malformed_json"},
        {"invalid UTF-8",
         post(kJson + kBearer,
              "{\"type\":\"UPDATE\",\"table\":\"articles\",\"schema\":\"public\",\"record\":{"
              "\"id\":\"\xff\xfe\"}}"),
         400, "malformed_json"},
        {"number beyond double",
         post(kJson + kBearer,
              R"({"type":"UPDATE","table":"articles","schema":"public","record":{"id":1e400}})"),
         400, "malformed_json"},
        {"id beyond 64 bits",
         post(
             kJson + kBearer,
             R"({"type":"UPDATE","table":"articles","schema":"public","record":{"id":123456789012345678901234567890}})"),
         422, "invalid_id"},
        {"id with control character",
         post(
             kJson + kBearer,
             R"({"type":"UPDATE","table":"articles","schema":"public","record":{"id":"a\u0001b"}})"),
         422, "invalid_id"},
        {"id over 200 bytes",
         post(kJson + kBearer,
              R"({"type":"UPDATE","table":"articles","schema":"public","record":{"id":")" +
                  std::string(300, 'x') + "\"}}"),
         422, "invalid_id"},
        {"unknown table",
         post(kJson + kBearer,
              R"({"type":"UPDATE","table":"pg_authid","schema":"pg_catalog","record":{"id":1}})"),
         422, "unknown_table"},
        {"header flood, no credentials",
         "POST /revalidate HTTP/1.1\r\nHost: t\r\n" + flood + kJson + "Content-Length: 2\r\n\r\n{}",
         431, "headers_too_large"},
        {"header line over 8 KiB",
         "POST /revalidate HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(20000, 'a') + "\r\n" +
             kJson + kBearer + "Content-Length: 2\r\n\r\n{}",
         431, "headers_too_large"},
        {"URI over 8 KiB", "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n", 414,
         "uri_too_long"},
        {"not HTTP at all", std::string("\x16\x03\x01\x02\x00garbage\r\n\r\n", 17), 400,
         "bad_request"},
        {"NUL after the right bearer secret",
         post(kJson + "Authorization: Bearer " + kSecret + std::string(1, '\0') + "junk\r\n",
              kUpdate),
         400, "bad_request"},
        {"bare CR after the right bearer secret",
         post(kJson + "Authorization: Bearer " + kSecret + "\rjunk\r\n", kUpdate), 400,
         "bad_request"},
        {"two Authorization headers, the first right",
         post(kJson + kBearer + "Authorization: Bearer guess\r\n", kUpdate), 400, "bad_request"},
        {"HTTP/1.1 without Host",
         "POST /revalidate HTTP/1.1\r\n" + kJson + kBearer +
             "Content-Length: " + std::to_string(kUpdate.size()) + "\r\n\r\n" + kUpdate,
         400, "bad_request"},
        {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "bad_request"},
        {"HTTP/0.9 request", "GET /healthz\r\n", 400, "bad_request"},
        {"unknown method", "BREW /revalidate HTTP/1.1\r\nHost: t\r\n\r\n", 501, "not_implemented"},
    };
    for (const auto& c : cases) {
        RawAnswer a = raw_http(s.ingress_port(), c.request);
        EXPECT_EQ(a.status, c.status) << c.name << ": " << a.body;
        auto body = json::parse(a.body, nullptr, false);
        ASSERT_TRUE(body.is_object()) << c.name << ": " << a.body;
        EXPECT_EQ(body.value("error", ""), c.code) << c.name << ": " << a.body;
        EXPECT_FALSE(body.value("detail", "").empty()) << c.name;
    }

    // A replay: the genuine signed request passes once, its copy is refused.
    std::string genuine = post(kJson + signed_headers("msg_replayed", now, kUpdate), kUpdate);
    EXPECT_EQ(raw_http(s.ingress_port(), genuine).status, 202);
    RawAnswer replay = raw_http(s.ingress_port(), genuine);
    EXPECT_EQ(replay.status, 401) << replay.body;
    EXPECT_NE(replay.body.find("replay"), std::string::npos) << replay.body;

    // Exactly the one genuine webhook was accepted, and the processes are alive.
    EXPECT_EQ(
        s.ingress_metric("revalidator_ingress_requests_total{route=\"revalidate\",code=\"202\"}"),
        1);
    EXPECT_TRUE(s.ingress().alive());
    EXPECT_TRUE(s.worker().alive());
    // The genuine event rewrites row 1 and the list; every other key stays as it was.
    EXPECT_TRUE(eventually([&] { return s.cache_get("/articles/1") == s.expected_row("1"); }));
    auto after = snapshot();
    for (std::size_t i = 2; i < after.size(); ++i)
        EXPECT_EQ(after[i], before[i]) << "/articles/" << i;
    if (HasFailure()) std::cerr << s.diagnostics() << "\n";
}

// A refusal of what cannot be framed safely ends the connection: a genuine webhook sent after it
// on the same connection is never read as a request.
TEST(Hostile, MalformedFramingEndsTheConnection) {
    Stack s;
    const std::string genuine = post(kJson + kBearer, kUpdate);
    const std::vector<std::pair<const char*, std::string>> heads = {
        {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
        {"HTTP/0.9 request", "GET /healthz\r\n"},
        {"unknown method", "BREW /revalidate HTTP/1.1\r\nHost: t\r\n\r\n"},
        {"NUL in a header",
         "GET /healthz HTTP/1.1\r\nHost: t\r\nX: a" + std::string(1, '\0') + "\r\n\r\n"},
        {"two Authorization headers",
         "GET /healthz HTTP/1.1\r\nHost: t\r\n" + kBearer + kBearer + "\r\n"},
        {"HTTP/1.1 without Host", "GET /healthz HTTP/1.1\r\n\r\n"},
        {"two Content-Lengths",
         "POST /revalidate HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"},
    };
    for (const auto& [what, head] : heads) {
        RawExchange e = raw_exchange(s.ingress_port(), head + genuine);
        EXPECT_TRUE(e.closed) << what << ": the connection stayed open\n" << e.received;
        EXPECT_EQ(e.responses, 1) << what << ":\n" << e.received;
        EXPECT_NE(e.received.find("\r\nConnection: close\r\n"), std::string::npos) << what << ":\n"
                                                                                   << e.received;
    }
    EXPECT_EQ(
        s.ingress_metric("revalidator_ingress_requests_total{route=\"revalidate\",code=\"202\"}"),
        0);
    EXPECT_TRUE(s.ingress().alive());
}

// Slowloris: hundreds of clients that trickle a request and never finish it hold no thread, so the
// ingress keeps answering everyone else at once, and each of them gets a 408 at its deadline.
TEST(Hostile, SlowClientsCannotShutOthersOut) {
    Stack s({.ingress_args = {"--request-timeout-s", "2"}});
    constexpr int kSlow = 400;
    std::vector<int> slow;
    for (int i = 0; i < kSlow; ++i) {
        const int fd = connect_loopback(s.ingress_port());
        ASSERT_GE(fd, 0);
        const std::string start = "POST /revalidate HTTP/1.1\r\nHost: t\r\nX-Slow: ";
        ASSERT_EQ(send(fd, start.data(), start.size(), MSG_NOSIGNAL),
                  static_cast<ssize_t>(start.size()));
        slow.push_back(fd);
    }
    for (int fd : slow) send(fd, "a", 1, MSG_NOSIGNAL);

    httplib::Client c("127.0.0.1", s.ingress_port());
    c.set_connection_timeout(1);
    c.set_read_timeout(1);
    auto health = c.Get("/healthz");
    ASSERT_TRUE(health) << "a probe waited behind " << kSlow << " slow clients";
    EXPECT_EQ(health->status, 200);
    auto hook = c.Post("/revalidate", {{"Authorization", std::string("Bearer ") + kSecret}},
                       kUpdate, "application/json");
    ASSERT_TRUE(hook);
    EXPECT_EQ(hook->status, 202) << hook->body;

    int timed_out = 0;
    for (int fd : slow) {
        timeval tv{10, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        char buf[512] = {};
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n > 0 && std::string(buf).find(" 408 ") != std::string::npos) ++timed_out;
        close(fd);
    }
    EXPECT_EQ(timed_out, kSlow);
    EXPECT_EQ(s.ingress_metric("revalidator_http_refused_total{reason=\"request_timeout\"}"),
              kSlow);
    EXPECT_TRUE(s.ingress().alive());
}
