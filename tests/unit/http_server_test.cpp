// http::Server over real loopback sockets: keep-alive, pipelining, chunked bodies, 100-continue,
// refusals (read by the client even while it is still sending), deadlines, the connection cap,
// handler exceptions, the refusal counters and stop(). Waits are for socket events or polled
// conditions against a deadline, never a fixed sleep.
#include "http/http_server.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cctype>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "runtime/metrics.hpp"

namespace revalidator::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Polls `condition` until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 2s) {
    const auto deadline = Clock::now() + timeout;
    while (!condition()) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(2ms);
    }
    return true;
}

// An answer as the client read it.
struct Reply {
    int status = 0;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;

    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? "" : it->second;
    }
    nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// A blocking loopback client whose every read waits on poll() with a deadline.
class Client {
  public:
    explicit Client(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
            throw std::runtime_error("connect to the test server failed");
        }
        timeval two{2, 0};  // a send the server never drains fails instead of hanging the test
        setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &two, sizeof(two));
    }
    ~Client() { close(); }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    // Whether every byte was sent.
    bool send(std::string_view data) {
        while (!data.empty()) {
            ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            data.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    // Reads whatever arrives within `timeout`; false on timeout, EOF or error.
    bool read_some(std::chrono::milliseconds timeout) {
        if (eof_) return false;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
        char buf[65536];
        ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
        if (n <= 0) {
            eof_ = true;
            reset_ = n < 0;
            return false;
        }
        buf_.append(buf, static_cast<std::size_t>(n));
        return true;
    }

    // The next response (interim 1xx included), or nothing if it is not whole within `timeout`.
    std::optional<Reply> response(std::chrono::milliseconds timeout = 2s) {
        const auto deadline = Clock::now() + timeout;
        while (true) {
            if (auto r = take_response()) return r;
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left <= 0ms || !read_some(left)) {
                if (auto r = take_response()) return r;
                return std::nullopt;
            }
        }
    }

    // Whether the server closes the connection within `timeout`, after sending nothing more.
    bool closed_within(std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        while (!eof_) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left <= 0ms) return false;
            read_some(left);
        }
        return true;
    }

    bool reset() const { return reset_; }
    const std::string& unread() const { return buf_; }
    int fd() const { return fd_; }

  private:
    std::optional<Reply> take_response() {
        const std::size_t head_end = buf_.find("\r\n\r\n");
        if (head_end == std::string::npos) return std::nullopt;
        Reply r;
        std::string_view head(buf_.data(), head_end);
        std::size_t line_end = head.find("\r\n");
        std::string_view status_line = head.substr(0, line_end);
        if (status_line.size() < 12 || status_line.substr(0, 9) != "HTTP/1.1 ") {
            throw std::runtime_error("not an HTTP/1.1 status line: " + std::string(status_line));
        }
        r.status = std::stoi(std::string(status_line.substr(9, 3)));
        while (line_end != std::string_view::npos) {
            std::size_t next = head.find("\r\n", line_end + 2);
            std::string_view line = head.substr(line_end + 2, next - line_end - 2);
            std::size_t colon = line.find(':');
            std::string name(line.substr(0, colon));
            for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            std::string_view value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
            r.headers[name] = std::string(value);
            line_end = next;
        }
        const std::size_t length =
            r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
        if (buf_.size() < head_end + 4 + length) return std::nullopt;
        r.body = buf_.substr(head_end + 4, length);
        buf_.erase(0, head_end + 4 + length);
        return r;
    }

    int fd_ = -1;
    std::string buf_;
    bool eof_ = false;
    bool reset_ = false;
};

std::string get(const std::string& path, const std::string& extra = "") {
    return "GET " + path + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

std::string post(const std::string& path, const std::string& body) {
    return "POST " + path +
           " HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
}

// revalidator_http_refused_total{reason="..."}; 0 while the series does not exist.
long refused_total(const metrics::Registry& registry, const std::string& reason) {
    const std::string series = "revalidator_http_refused_total{reason=\"" + reason + "\"} ";
    const std::string text = registry.render();
    const std::size_t at = text.find(series);
    return at == std::string::npos ? 0 : std::stol(text.substr(at + series.size()));
}

Tuning small_tuning() {
    Tuning t;
    t.loops = 1;
    t.max_connections = 64;
    t.limits.max_request_line = 256;
    t.limits.max_header_bytes = 1024;
    t.limits.max_headers = 10;
    t.limits.max_body_bytes = 4096;
    t.request_timeout_s = 1;
    t.keep_alive_s = 1;
    t.write_timeout_s = 1;
    return t;
}

// A Server on a free loopback port, served in its own thread once its routes are set.
class OnLoopback {
  public:
    explicit OnLoopback(const Tuning& t) : server_(t, registry_) {}
    ~OnLoopback() { shut(); }
    OnLoopback(const OnLoopback&) = delete;
    OnLoopback& operator=(const OnLoopback&) = delete;

    int port() const { return port_; }
    Server& server() { return server_; }
    metrics::Registry& registry() { return registry_; }
    std::future<void>& served() { return served_; }
    long refused(const std::string& reason) const { return refused_total(registry_, reason); }

  protected:
    void serve() {
        port_ = server_.bind("127.0.0.1", 0);
        if (port_ <= 0) throw std::runtime_error("bind failed");
        served_ = std::async(std::launch::async, [this] { server_.serve(); });
    }
    // Stops serving and waits for serve() to return; a fixture whose handlers wait on gates opens
    // them first.
    void shut() {
        if (shut_ || !served_.valid()) return;
        shut_ = true;
        server_.stop();
        served_.wait();
    }

    metrics::Registry registry_;  // outlives the server, whose gauge it holds
    Server server_;

  private:
    int port_ = -1;
    std::future<void> served_;
    bool shut_ = false;
};

// A server with a few routes.
class Running : public OnLoopback {
  public:
    explicit Running(const Tuning& t = small_tuning()) : OnLoopback(t) {
        server_.get("/hello",
                    [](const Request&, Response& res) { res.set_content("hello", "text/plain"); });
        server_.get(R"(/n/(\d+))", [](const Request& req, Response& res) {
            res.set_content(std::string(req.match(1)), "text/plain");
        });
        server_.post("/echo", [](const Request& req, Response& res) {
            res.set_header("X-Seen-Content-Length", req.header("content-length"));
            res.set_header("X-Seen-Transfer-Encoding", req.header("Transfer-Encoding"));
            res.set_header("X-Seen-Expect", req.header("Expect"));
            res.set_content(std::string(req.body()), "application/octet-stream");
        });
        server_.get(R"(/big/(\d+))", [](const Request& req, Response& res) {
            res.set_content(std::string(std::stoul(std::string(req.match(1))), 'b'), "text/plain");
        });
        server_.get("/throw",
                    [](const Request&, Response&) { throw std::runtime_error("handler failed"); });
        server_.get("/x-y_z/1", [](const Request& req, Response& res) {
            res.set_content("literal " + std::string(req.match(0)), "text/plain");
        });
        server_.get("/a.b", [](const Request& req, Response& res) {
            res.set_content("regex " + std::string(req.match(0)), "text/plain");
        });
        server_.get("/json", [](const Request&, Response& res) {
            res.set_content("[" + std::string(4000, ' ') + "]", "application/json");
        });
        server_.get("/cond", [](const Request& req, Response& res) {
            res.set_header("ETag", "\"v1\"");
            if (req.header("If-None-Match") == "\"v1\"") {
                res.set_status(304);
                return;
            }
            res.set_content("versioned", "text/plain");
        });
        serve();
    }
};

void expect_refusal(const Reply& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(r.header("content-type"), "application/json");
    EXPECT_EQ(r.header("connection"), "close");
    nlohmann::json body = r.json();
    ASSERT_TRUE(body.is_object()) << r.body;
    EXPECT_EQ(body.value("error", ""), code) << r.body;
    EXPECT_FALSE(body.value("detail", "").empty()) << r.body;
}

TEST(HttpServer, KeepAliveServesManyRequestsOnOneConnection) {
    Running s;
    Client c(s.port());
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(c.send(get("/n/" + std::to_string(i))));
        auto r = c.response();
        ASSERT_TRUE(r) << i;
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, std::to_string(i));
        EXPECT_NE(r->header("connection"), "close");
    }
    ASSERT_TRUE(c.send(post("/echo", "payload")));
    auto r = c.response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "payload");
    EXPECT_FALSE(c.closed_within(0ms));
}

TEST(HttpServer, AHandlersBodyGoesOutAsWrittenWhateverTheClientAccepts) {
    // The packaged httplib would gzip or brotli a JSON answer on its own, under the handler's
    // headers (an ETag naming other bytes); content coding is the handler's choice.
    Running s;
    Client c(s.port());
    for (const char* accepts : {"gzip", "br", "gzip, deflate, br", "*"}) {
        ASSERT_TRUE(c.send(get("/json", std::string("Accept-Encoding: ") + accepts + "\r\n")));
        auto r = c.response();
        ASSERT_TRUE(r) << accepts;
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->header("content-encoding"), "") << accepts;
        EXPECT_EQ(r->body, "[" + std::string(4000, ' ') + "]") << accepts;
    }
}

TEST(HttpServer, PipelinedRequestsAreAnsweredInOrder) {
    Tuning t = small_tuning();
    t.loops = 2;
    Running s(t);
    Client c(s.port());
    std::string all;
    for (int i = 0; i < 200; ++i) {
        all +=
            i % 3 == 0 ? post("/echo", "body" + std::to_string(i)) : get("/n/" + std::to_string(i));
    }
    all += get("/hello", "Connection: close\r\n");
    ASSERT_TRUE(c.send(all));
    for (int i = 0; i < 200; ++i) {
        auto r = c.response();
        ASSERT_TRUE(r) << i;
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, i % 3 == 0 ? "body" + std::to_string(i) : std::to_string(i));
    }
    auto last = c.response();
    ASSERT_TRUE(last);
    EXPECT_EQ(last->body, "hello");
    EXPECT_EQ(last->header("connection"), "close");
    EXPECT_TRUE(c.closed_within(2s));
    EXPECT_TRUE(c.unread().empty());
}

// Many small requests in one write span several reads, and requests straddle read boundaries:
// each is answered once, in order (the buffer keeps a read offset instead of moving its rest).
TEST(HttpServer, ThousandsOfPipelinedRequestsInOneWriteAreAllAnsweredInOrder) {
    Running s;
    Client c(s.port());
    std::string all;
    for (int i = 0; i < 2000; ++i) all += get("/n/" + std::to_string(i));
    all += get("/hello", "Connection: close\r\n");
    ASSERT_TRUE(c.send(all));
    for (int i = 0; i < 2000; ++i) {
        auto r = c.response();
        ASSERT_TRUE(r) << i;
        ASSERT_EQ(r->status, 200) << i;
        ASSERT_EQ(r->body, std::to_string(i));
    }
    auto last = c.response();
    ASSERT_TRUE(last);
    EXPECT_EQ(last->body, "hello");
    EXPECT_TRUE(c.closed_within(2s));
    EXPECT_TRUE(c.unread().empty());
}

// Answers far beyond the output high-water mark: the server stops taking pipelined requests
// while the client is slow to read, and resumes as it drains, in order.
TEST(HttpServer, PipelinedLargeAnswersAreAnsweredInOrder) {
    Running s;
    Client c(s.port());
    std::string all;
    for (int i = 0; i < 40; ++i) all += get("/big/" + std::to_string(60000 + i));
    ASSERT_TRUE(c.send(all));
    for (int i = 0; i < 40; ++i) {
        auto r = c.response();
        ASSERT_TRUE(r) << i;
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body.size(), 60000u + static_cast<unsigned>(i));
    }
    EXPECT_TRUE(c.unread().empty());
}

// The request's answer is sent even when the client has already shut down its sending side.
TEST(HttpServer, HalfClosedClientGetsItsAnswer) {
    Running s;
    Client c(s.port());
    ASSERT_TRUE(c.send(get("/n/5") + get("/n/6")));
    ::shutdown(c.fd(), SHUT_WR);
    auto first = c.response();
    auto second = c.response();
    ASSERT_TRUE(first);
    ASSERT_TRUE(second);
    EXPECT_EQ(first->body, "5");
    EXPECT_EQ(second->body, "6");
    EXPECT_TRUE(c.closed_within(2s));
}

// A client that does not read its answers is dropped after write_timeout_s.
TEST(HttpServer, ClientThatDoesNotReadIsDropped) {
    Running s;
    Client c(s.port());
    std::string all;
    for (int i = 0; i < 64; ++i) all += get("/big/1000000");
    ASSERT_TRUE(c.send(all));
    EXPECT_TRUE(eventually([&] { return s.refused("write_timeout") == 1; }, 3s));
    Client other(s.port());
    ASSERT_TRUE(other.send(get("/hello")));
    auto r = other.response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

TEST(HttpServer, ChunkedBodyReachesTheHandlerDecoded) {
    Running s;
    Client c(s.port());
    // Sent in pieces that split chunk-size lines and data, to exercise framing across reads.
    const std::string req =
        "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n";
    for (std::size_t at = 0; at < req.size(); at += 7) {
        ASSERT_TRUE(c.send(std::string_view(req).substr(at, 7)));
        if (at + 7 < req.size()) {
            EXPECT_FALSE(c.read_some(0ms)) << "answered early at " << at;
        }
    }
    auto r = c.response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello 0123456789");
    // The handler sees the fields as sent, the body decoded.
    EXPECT_EQ(r->header("x-seen-content-length"), "");
    EXPECT_EQ(r->header("x-seen-transfer-encoding"), "chunked");

    // And the connection stays usable after a chunked request.
    ASSERT_TRUE(c.send(get("/hello")));
    auto again = c.response();
    ASSERT_TRUE(again);
    EXPECT_EQ(again->body, "hello");
}

TEST(HttpServer, ExpectContinueIsAnsweredBeforeTheBody) {
    Running s;
    Client c(s.port());
    ASSERT_TRUE(c.send(
        "POST /echo HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
    auto interim = c.response();
    ASSERT_TRUE(interim) << "no 100 Continue while the client waits for it";
    EXPECT_EQ(interim->status, 100);
    EXPECT_TRUE(c.unread().empty());

    ASSERT_TRUE(c.send("hel"));
    EXPECT_FALSE(c.read_some(50ms)) << "a second 100 or an early answer: " << c.unread();
    ASSERT_TRUE(c.send("lo"));
    auto r = c.response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello");
    EXPECT_EQ(r->header("x-seen-expect"), "100-continue");
    EXPECT_TRUE(c.unread().empty());

    // With the body sent along with the head there is nothing to wait for: no 100.
    ASSERT_TRUE(
        c.send("POST /echo HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: "
               "2\r\n\r\nok"));
    auto direct = c.response();
    ASSERT_TRUE(direct);
    EXPECT_EQ(direct->status, 200);
    EXPECT_EQ(direct->body, "ok");
}

TEST(HttpServer, ExpectContinueOverTheLimitGets413InsteadOf100) {
    Running s;
    Client c(s.port());
    ASSERT_TRUE(
        c.send("POST /echo HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\n"
               "Content-Length: 1000000\r\n\r\n"));
    auto r = c.response();
    ASSERT_TRUE(r);
    expect_refusal(*r, 413, "payload_too_large");
    EXPECT_TRUE(c.closed_within(2s));
}

// The 413 is sent as soon as the head says the body is too large, while the client is still
// sending it. The server keeps reading (and discarding) for a while, so the client's sends do
// not fail and the answer is not destroyed by a reset before the client reads it.
TEST(HttpServer, PayloadTooLargeIsReadByAClientStillSending) {
    Running s;
    Client c(s.port());
    ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100000000\r\n\r\n"));
    const std::string piece(64 * 1024, 'x');
    for (int i = 0; i < 8; ++i) {
        ASSERT_TRUE(c.send(piece)) << "send " << i << " failed";
    }
    auto r = c.response();
    ASSERT_TRUE(r) << "reset: " << c.reset();
    expect_refusal(*r, 413, "payload_too_large");
    EXPECT_TRUE(c.closed_within(2s));
    EXPECT_FALSE(c.reset());
    EXPECT_TRUE(eventually([&] { return s.refused("payload_too_large") == 1; }));
}

TEST(HttpServer, OversizedHeadsGetJsonRefusals) {
    Running s;
    {
        Client c(s.port());
        ASSERT_TRUE(c.send(get("/hello", "X-Big: " + std::string(400, 'b') + "\r\n")));
        auto r = c.response();
        ASSERT_TRUE(r);
        expect_refusal(*r, 431, "headers_too_large");
        EXPECT_TRUE(c.closed_within(2s));
    }
    {
        Client c(s.port());
        std::string many;
        for (int i = 0; i < 11; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
        ASSERT_TRUE(c.send(get("/hello", many)));
        auto r = c.response();
        ASSERT_TRUE(r);
        expect_refusal(*r, 431, "headers_too_large");
    }
    {
        Client c(s.port());
        ASSERT_TRUE(c.send(get("/" + std::string(300, 'u'))));
        auto r = c.response();
        ASSERT_TRUE(r);
        expect_refusal(*r, 414, "uri_too_long");
        EXPECT_TRUE(c.closed_within(2s));
    }
    {
        // Refused before its end: the answer comes without waiting for the rest of the line.
        Client c(s.port());
        ASSERT_TRUE(c.send("GET /" + std::string(300, 'u')));
        auto r = c.response();
        ASSERT_TRUE(r);
        expect_refusal(*r, 414, "uri_too_long");
    }
    EXPECT_TRUE(eventually(
        [&] { return s.refused("headers_too_large") == 2 && s.refused("uri_too_long") == 2; }));
}

TEST(HttpServer, AmbiguousFramingIsRefusedAndEndsTheConnection) {
    Running s;
    Client c(s.port());
    ASSERT_TRUE(c.send(get("/n/1") +
                       "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
                       get("/n/2")));
    auto first = c.response();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->status, 200);
    EXPECT_EQ(first->body, "1");
    auto second = c.response();
    ASSERT_TRUE(second);
    expect_refusal(*second, 400, "bad_request");
    EXPECT_TRUE(c.closed_within(2s));
    EXPECT_TRUE(c.unread().empty()) << "answered after a refusal: " << c.unread();
    EXPECT_TRUE(eventually([&] { return s.refused("bad_request") == 1; }));
}

// What httplib could not read, or would read wrongly, is refused before it and ends the
// connection: the bytes after it are never taken for another request.
TEST(HttpServer, UnreadableOrForbiddenHeadsAreRefusedAndEndTheConnection) {
    struct Case {
        const char* what;
        std::string head;
        int status;
        const char* code;
    };
    const std::vector<Case> cases = {
        {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "bad_request"},
        {"HTTP/0.9", "GET /hello\r\n", 400, "bad_request"},
        {"unknown method", "FOO /hello HTTP/1.1\r\nHost: test\r\n\r\n", 501, "not_implemented"},
        {"NUL in a value",
         "GET /hello HTTP/1.1\r\nHost: test\r\nX: a" + std::string(1, '\0') + "b\r\n\r\n", 400,
         "bad_request"},
        {"bare CR in a value", "GET /hello HTTP/1.1\r\nHost: test\r\nX: a\rb\r\n\r\n", 400,
         "bad_request"},
        {"two Authorization headers",
         "GET /hello HTTP/1.1\r\nHost: test\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n", 400,
         "bad_request"},
        {"HTTP/1.1 without Host", "GET /hello HTTP/1.1\r\n\r\n", 400, "bad_request"},
    };
    Running s;
    for (const auto& c : cases) {
        Client client(s.port());
        ASSERT_TRUE(client.send(c.head + get("/hello"))) << c.what;
        auto r = client.response();
        ASSERT_TRUE(r) << c.what;
        SCOPED_TRACE(c.what);
        expect_refusal(*r, c.status, c.code);
        EXPECT_TRUE(client.closed_within(2s));
        EXPECT_TRUE(client.unread().empty()) << "answered after a refusal: " << client.unread();
    }
    EXPECT_TRUE(eventually(
        [&] { return s.refused("bad_request") == 6 && s.refused("not_implemented") == 1; }));

    // HTTP/1.0 needs no Host.
    Client old(s.port());
    ASSERT_TRUE(old.send("GET /hello HTTP/1.0\r\n\r\n"));
    auto r = old.response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

TEST(HttpServer, IncompleteRequestTimesOutWith408) {
    Running s;
    Client c(s.port());
    const auto sent = Clock::now();
    ASSERT_TRUE(c.send("GET /hello HTTP/1.1\r\nHost: te"));
    auto r = c.response(3s);
    ASSERT_TRUE(r);
    EXPECT_GE(Clock::now() - sent, 900ms);
    expect_refusal(*r, 408, "request_timeout");
    EXPECT_TRUE(c.closed_within(1s));
    EXPECT_TRUE(eventually([&] { return s.refused("request_timeout") == 1; }));
}

// A byte every 100 ms keeps the connection busy but does not move the request's deadline.
TEST(HttpServer, TricklingRequestStillTimesOut) {
    Running s;
    Client c(s.port());
    const std::string req = get("/hello", "X-Pad: " + std::string(200, 'p') + "\r\n");
    std::size_t sent = 0;
    bool answered = false;
    const auto start = Clock::now();
    while (!answered && Clock::now() - start < 2500ms) {
        answered = c.read_some(100ms);
        if (!answered && sent < req.size() - 1) {
            ASSERT_TRUE(c.send(req.substr(sent++, 1)));
        }
    }
    ASSERT_TRUE(answered) << "no answer while trickling, after " << sent << " bytes";
    auto r = c.response(1s);
    ASSERT_TRUE(r);
    EXPECT_LT(sent, req.size() - 1);
    expect_refusal(*r, 408, "request_timeout");
}

TEST(HttpServer, IdleKeepAliveConnectionIsClosed) {
    Running s;
    Client used(s.port());
    Client never_used(s.port());
    ASSERT_TRUE(used.send(get("/hello")));
    ASSERT_TRUE(used.response());
    const auto answered = Clock::now();
    EXPECT_TRUE(used.closed_within(3s));
    EXPECT_GE(Clock::now() - answered, 900ms);
    EXPECT_TRUE(used.unread().empty()) << "no 408 for a connection between requests";
    EXPECT_FALSE(used.reset());
    EXPECT_TRUE(never_used.closed_within(1s));
    EXPECT_TRUE(never_used.unread().empty());
}

TEST(HttpServer, ConnectionOverTheCapGets503) {
    Tuning t = small_tuning();
    t.max_connections = 2;
    t.keep_alive_s = 30;
    Running s(t);
    auto a = std::make_unique<Client>(s.port());
    Client b(s.port());
    for (Client* c : {a.get(), &b}) {  // both accepted and open
        ASSERT_TRUE(c->send(get("/hello")));
        auto r = c->response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
    }

    Client over(s.port());
    auto r = over.response();
    ASSERT_TRUE(r);
    expect_refusal(*r, 503, "too_many_connections");
    EXPECT_TRUE(over.closed_within(2s));
    EXPECT_TRUE(eventually([&] { return s.refused("too_many_connections") >= 1; }));
    EXPECT_TRUE(eventually([&] {
        return s.registry().render().find("\nrevalidator_http_connections 2\n") !=
               std::string::npos;
    }));

    // The open ones are unaffected; once one closes, a new connection is served again.
    ASSERT_TRUE(b.send(get("/hello")));
    ASSERT_TRUE(b.response());
    a.reset();
    EXPECT_TRUE(eventually(
        [&] {
            Client c(s.port());
            if (!c.send(get("/n/7"))) return false;
            auto ok = c.response();
            return ok && ok->status == 200 && ok->body == "7";
        },
        2s));
}

TEST(HttpServer, ThrowingHandlerGets500AndTheServerLivesOn) {
    Running s;
    Client c(s.port());
    ASSERT_TRUE(c.send(get("/throw")));
    auto r = c.response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 500);
    EXPECT_EQ(r->json().value("error", ""), "internal_error");
    EXPECT_EQ(r->body.find("handler failed"), std::string::npos) << "no internal detail";
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c.closed_within(2s));
    // New connections still work.
    Client other(s.port());
    ASSERT_TRUE(other.send(get("/hello")));
    auto fresh = other.response();
    ASSERT_TRUE(fresh);
    EXPECT_EQ(fresh->body, "hello");
}

// Nothing but what the handler chose goes out: a Range header changes nothing (no 206, no
// multipart, whatever the number of ranges), and no range support is advertised.
TEST(HttpServer, RangeIsIgnoredAndTheWholeBodySent) {
    Running s;
    Client c(s.port());
    std::string ranges = "bytes=0-";
    for (int i = 0; i < 60; ++i) ranges += ",0-";  // under the small line limit
    for (const std::string& range : {std::string("bytes=0-0"), std::string("bytes=-5"), ranges}) {
        ASSERT_TRUE(c.send(get("/big/100000", "Range: " + range + "\r\n")));
        auto r = c.response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, std::string(100000, 'b'));
        EXPECT_EQ(r->header("content-type"), "text/plain");
        EXPECT_EQ(r->header("content-range"), "");
        EXPECT_EQ(r->header("accept-ranges"), "");
    }
}

// HEAD is GET's head on every GET route, loop routes included; the length is the GET's.
TEST(HttpServer, HeadOnALoopRouteHasTheHeadersOnly) {
    Running s;
    Client c(s.port());
    ASSERT_TRUE(c.send("HEAD /hello HTTP/1.1\r\nHost: test\r\n\r\n" + get("/n/7")));
    ASSERT_TRUE(eventually([&] {
        c.read_some(10ms);
        return c.unread().find("\r\n\r\n7") != std::string::npos;
    }));
    const std::string& both = c.unread();
    EXPECT_EQ(both.substr(0, 12), "HTTP/1.1 200");
    EXPECT_NE(both.find("Content-Length: 5\r\n"), std::string::npos) << both;
    EXPECT_EQ(both.find("hello"), std::string::npos) << "no body: " << both;
}

// RFC 9110 §8.6: a 304 carries no Content-Length of its own (it would have to equal the 200's).
TEST(HttpServer, NotModifiedCarriesNoBodyAndNoContentLength) {
    Running s;
    Client c(s.port());
    ASSERT_TRUE(c.send(get("/cond", "If-None-Match: \"v1\"\r\n") + get("/cond")));
    ASSERT_TRUE(eventually([&] {
        c.read_some(10ms);
        return c.unread().find("versioned") != std::string::npos;
    }));
    const std::string& both = c.unread();
    const auto second = both.find("HTTP/1.1 200");
    ASSERT_NE(second, std::string::npos) << both;
    const std::string first = both.substr(0, second);
    EXPECT_EQ(first.substr(0, 12), "HTTP/1.1 304");
    EXPECT_EQ(first.find("Content-Length"), std::string::npos) << first;
    EXPECT_NE(first.find("ETag: \"v1\""), std::string::npos) << first;
    EXPECT_EQ(first.substr(first.size() - 4), "\r\n\r\n") << "no body: " << first;
}

TEST(HttpServer, UnknownRouteIs404) {
    Running s;
    Client c(s.port());
    ASSERT_TRUE(c.send(get("/nowhere")));
    auto r = c.response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
}

// A pattern without regex syntax is matched by comparison: the whole path, exactly as the regex
// would match it; a pattern with syntax in it keeps the regex's meaning.
TEST(HttpServer, RoutesMatchTheWholePathAsTheirPatternSays) {
    Running s;
    Client c(s.port());
    for (auto [path, status, body] : {std::tuple{"/x-y_z/1", 200, "literal /x-y_z/1"},
                                      {"/x-y_z/1/", 404, ""},
                                      {"/X-Y_Z/1", 404, ""},
                                      {"/x-y_z/10", 404, ""},
                                      {"/x-y_z", 404, ""},
                                      {"/a.b", 200, "regex /a.b"},
                                      {"/aXb", 200, "regex /aXb"},
                                      {"/a.bc", 404, ""}}) {
        ASSERT_TRUE(c.send(get(path)));
        auto r = c.response();
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, status) << path;
        if (status == 200) {
            EXPECT_EQ(r->body, body) << path;
        }
    }
}

TEST(HttpServer, RefusalsAreCountedByReason) {
    Running s;
    EXPECT_EQ(s.refused("payload_too_large"), 0);
    for (int i = 0; i < 3; ++i) {
        Client c(s.port());
        ASSERT_TRUE(c.send(post("/echo", std::string(5000, 'x'))));
        auto r = c.response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 413);
    }
    {
        Client c(s.port());
        ASSERT_TRUE(c.send("GET / HTTP/1.1\nHost: x\r\n\r\n"));
        auto r = c.response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 400);
    }
    EXPECT_TRUE(eventually(
        [&] { return s.refused("payload_too_large") == 3 && s.refused("bad_request") == 1; }));
    EXPECT_EQ(s.refused("headers_too_large"), 0);
    EXPECT_NE(s.registry().render().find("# TYPE revalidator_http_refused_total counter"),
              std::string::npos);
}

TEST(HttpServer, StopFromAnotherThreadEndsServe) {
    Running s;
    Client idle(s.port());
    Client c(s.port());
    ASSERT_TRUE(c.send(get("/hello")));
    ASSERT_TRUE(c.response());
    std::thread stopper([&] { s.server().stop(); });
    EXPECT_EQ(s.served().wait_for(2s), std::future_status::ready);
    stopper.join();
    // Its connections are closed with it.
    EXPECT_TRUE(idle.closed_within(1s));
    EXPECT_TRUE(c.closed_within(1s));
}

TEST(HttpServer, StopBeforeServeMakesServeReturnAtOnce) {
    metrics::Registry registry;
    Server server(small_tuning(), registry);
    ASSERT_GT(server.bind("127.0.0.1", 0), 0);
    server.stop();
    auto served = std::async(std::launch::async, [&] { server.serve(); });
    EXPECT_EQ(served.wait_for(1s), std::future_status::ready);
    served.wait();
}

TEST(HttpServer, ServeWithoutBindReturns) {
    metrics::Registry registry;
    Server server(small_tuning(), registry);
    auto served = std::async(std::launch::async, [&] { server.serve(); });
    EXPECT_EQ(served.wait_for(1s), std::future_status::ready);
    served.wait();
}

// Lane routes (Server::get with a lane): their handlers run on the lane's threads and wait on a
// gate the test opens, so what the loop does meanwhile is observable.
class Gate {
  public:
    // Called by handlers: counts itself, then waits until the test opens the gate.
    void pass() {
        std::unique_lock lock(mu_);
        ++waiting_;
        cv_.notify_all();
        cv_.wait(lock, [this] { return open_; });
    }
    void open() {
        std::lock_guard lock(mu_);
        open_ = true;
        cv_.notify_all();
    }
    bool waiting(int n, std::chrono::milliseconds timeout = 2s) {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, timeout, [&] { return waiting_ >= n; });
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool open_ = false;
    int waiting_ = 0;
};

class Blocking : public OnLoopback {
  public:
    explicit Blocking(LaneSpec lane = {.name = "slow", .threads = 8}, Tuning t = small_tuning())
        : OnLoopback(t) {
        server_.get("/hello",
                    [](const Request&, Response& res) { res.set_content("hello", "text/plain"); });
        const auto slow = server_.add_lane(lane);
        server_.get(R"(/slow/(\w+))", slow, [this](const Request& req, Response& res) {
            gate.pass();
            res.set_content("slow " + std::string(req.match(1)), "text/plain");
        });
        server_.get("/slow-throw", slow, [this](const Request&, Response&) {
            gate.pass();
            throw std::runtime_error("blocking handler failed");
        });
        serve();
    }
    ~Blocking() {
        gate.open();
        shut();
    }

    Gate gate;
};

TEST(HttpBlocking, AWaitingHandlerDoesNotHoldTheLoop) {
    Blocking s;  // one loop
    Client slow(s.port());
    ASSERT_TRUE(slow.send(get("/slow/a")));
    ASSERT_TRUE(s.gate.waiting(1));
    Client quick(s.port());
    ASSERT_TRUE(quick.send(get("/hello")));
    auto hello = quick.response();
    ASSERT_TRUE(hello) << "the loop answered another connection while the handler waited";
    EXPECT_EQ(hello->body, "hello");
    s.gate.open();
    auto answered = slow.response();
    ASSERT_TRUE(answered);
    EXPECT_EQ(answered->status, 200);
    EXPECT_EQ(answered->body, "slow a");
}

TEST(HttpBlocking, PipelinedRequestsAfterABlockingOneKeepTheirOrder) {
    Blocking s;
    Client c(s.port());
    ASSERT_TRUE(c.send(get("/slow/a") + get("/hello") + get("/slow/b") + get("/hello")));
    ASSERT_TRUE(s.gate.waiting(1));
    EXPECT_FALSE(c.response(100ms)) << "nothing may overtake the blocking request";
    s.gate.open();
    for (const char* expected : {"slow a", "hello", "slow b", "hello"}) {
        auto r = c.response();
        ASSERT_TRUE(r) << expected;
        EXPECT_EQ(r->body, expected);
    }
}

TEST(HttpBlocking, HeadOnABlockingRouteHasTheHeadersOnly) {
    Blocking s;
    s.gate.open();
    Client c(s.port());
    ASSERT_TRUE(c.send("HEAD /slow/abc HTTP/1.1\r\nHost: test\r\n\r\n"));
    ASSERT_TRUE(eventually([&] {
        c.read_some(10ms);
        return c.unread().find("\r\n\r\n") != std::string::npos;
    }));
    c.read_some(200ms);  // a body, if one were sent, would arrive now
    const std::string& head = c.unread();
    EXPECT_EQ(head.substr(0, 12), "HTTP/1.1 200");
    EXPECT_NE(head.find("Content-Length: 8\r\n"), std::string::npos) << head;
    EXPECT_EQ(head.find("\r\n\r\n") + 4, head.size()) << "no body: " << head;
}

TEST(HttpBlocking, AFullQueueGets503BusyAndTheOthersAreAnswered) {
    Blocking s({.name = "slow", .threads = 1, .queue = 1});
    Client running(s.port());
    ASSERT_TRUE(running.send(get("/slow/a")));
    ASSERT_TRUE(s.gate.waiting(1));
    Client queued(s.port());
    ASSERT_TRUE(queued.send(get("/slow/b")));
    // The loop takes events in the order they became ready: once a later connection is answered,
    // the queued request has been taken.
    Client barrier(s.port());
    ASSERT_TRUE(barrier.send(get("/hello")));
    ASSERT_TRUE(barrier.response());
    Client refused(s.port());
    ASSERT_TRUE(refused.send(get("/slow/c")));
    auto busy = refused.response();
    ASSERT_TRUE(busy);
    EXPECT_EQ(busy->status, 503);
    EXPECT_EQ(busy->header("retry-after"), "1");
    EXPECT_EQ(busy->json().value("error", ""), "busy");
    EXPECT_EQ(s.refused("busy"), 1);
    s.gate.open();
    for (auto* c : {&running, &queued}) {
        auto r = c->response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
    }
    // The refused connection stays open (its client did nothing wrong) and is served once a
    // thread is free.
    ASSERT_TRUE(refused.send(get("/slow/c")));
    auto retried = refused.response();
    ASSERT_TRUE(retried);
    EXPECT_EQ(retried->body, "slow c");
}

TEST(HttpBlocking, AClientThatLeavesWhileItsHandlerWaitsCostsNothingElse) {
    Blocking s;
    {
        Client leaving(s.port());
        ASSERT_TRUE(leaving.send(get("/slow/gone")));
        ASSERT_TRUE(s.gate.waiting(1));
    }
    Client next(s.port());
    ASSERT_TRUE(next.send(get("/hello")));
    auto hello = next.response();
    ASSERT_TRUE(hello);
    EXPECT_EQ(hello->body, "hello");
    s.gate.open();
    ASSERT_TRUE(next.send(get("/slow/mine")));
    auto mine = next.response();
    ASSERT_TRUE(mine);
    EXPECT_EQ(mine->body, "slow mine") << "only its own answer, never the one of the client gone";
    EXPECT_TRUE(next.unread().empty());
}

TEST(HttpBlocking, AThrowingBlockingHandlerGets500AndTheServerLivesOn) {
    Blocking s;
    s.gate.open();
    Client c(s.port());
    ASSERT_TRUE(c.send(get("/slow-throw")));
    auto r = c.response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 500);
    EXPECT_EQ(r->body.find("blocking handler failed"), std::string::npos) << "no internal detail";
    EXPECT_TRUE(c.closed_within(2s));
    Client next(s.port());
    ASSERT_TRUE(next.send(get("/slow/after")));
    auto after = next.response();
    ASSERT_TRUE(after);
    EXPECT_EQ(after->body, "slow after");
}

TEST(HttpBlocking, StopWaitsForTheRunningHandlerThenServeReturns) {
    Blocking s;
    Client c(s.port());
    ASSERT_TRUE(c.send(get("/slow/a")));
    ASSERT_TRUE(s.gate.waiting(1));
    s.server().stop();
    EXPECT_EQ(s.served().wait_for(100ms), std::future_status::timeout)
        << "serve() waits for the handler that runs";
    s.gate.open();
    EXPECT_EQ(s.served().wait_for(2s), std::future_status::ready);
}

// Batched routes (Server::get_batched): the batch handler sees the waiting requests together, may
// hold a batch at the test's gate, and defers the rows named "wait...", whose single handler then
// waits at a gate of its own in the overflow lane.
class Batched : public OnLoopback {
  public:
    explicit Batched(int overflow_threads = 8, Tuning t = small_tuning()) : OnLoopback(t) {
        const auto rows = server_.add_lane({.name = "rows", .threads = 1, .batch = 32});
        const auto misses = server_.add_lane({.name = "misses", .threads = overflow_threads});
        const auto slow = server_.add_lane({.name = "slow", .threads = 1});
        server_.get_batched(R"(/row/(\w+))", rows,
                            [this](std::span<Server::Exchange> batch) {
                                std::vector<std::string> paths;
                                for (const auto& x : batch) paths.emplace_back(x.request.path());
                                {
                                    std::lock_guard lock(mu_);
                                    batches_.push_back(paths);
                                }
                                if (paths.front() == "/row/hold") hold_gate.pass();
                                if (paths.front() == "/row/throw")
                                    throw std::runtime_error("the batch failed");
                                for (auto& x : batch) {
                                    const std::string id(x.request.match(1));
                                    if (id.starts_with("wait")) {
                                        x.deferred = true;
                                        continue;
                                    }
                                    std::lock_guard lock(mu_);
                                    answered_in_batch_[id] = true;
                                    x.response.set_content("row " + id, "text/plain");
                                }
                            },
                            misses,
                            [this](const Request& req, Response& res) {
                                const std::string id(req.match(1));
                                {
                                    std::lock_guard lock(mu_);
                                    answered_in_batch_[id] = false;
                                }
                                if (id.starts_with("wait")) wait_gate.pass();
                                if (id.ends_with("boom"))
                                    throw std::runtime_error("the single handler failed");
                                res.set_content("row " + id, "text/plain");
                            });
        server_.get(R"(/slow/(\w+))", slow, [this](const Request& req, Response& res) {
            slow_gate.pass();
            res.set_content("slow " + std::string(req.match(1)), "text/plain");
        });
        serve();
    }
    ~Batched() {
        hold_gate.open();
        wait_gate.open();
        slow_gate.open();
        shut();
    }

    Gate hold_gate;
    Gate wait_gate;
    Gate slow_gate;
    long queued() const {
        const std::string series = "\nrevalidator_http_lane_queued{lane=\"rows\"} ";
        const std::string text = registry_.render();
        const std::size_t at = text.find(series);
        return at == std::string::npos ? -1 : std::stol(text.substr(at + series.size()));
    }
    std::vector<std::vector<std::string>> batches() {
        std::lock_guard lock(mu_);
        return batches_;
    }
    // Per row id: whether the batch answered it (false: the overflow lane did).
    std::map<std::string, bool> answered_in_batch() {
        std::lock_guard lock(mu_);
        return answered_in_batch_;
    }

  private:
    std::mutex mu_;
    std::vector<std::vector<std::string>> batches_;
    std::map<std::string, bool> answered_in_batch_;
};

TEST(HttpBatched, WaitingRowsReachTheBatchTogetherAndTheDeferredAreAnsweredAlone) {
    Batched s;
    Client held(s.port());
    ASSERT_TRUE(held.send(get("/row/hold")));
    ASSERT_TRUE(s.hold_gate.waiting(1));
    const std::vector<std::string> ids = {"1", "2", "wait", "3"};
    std::vector<std::unique_ptr<Client>> clients;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        clients.push_back(std::make_unique<Client>(s.port()));
        ASSERT_TRUE(clients.back()->send(get("/row/" + ids[i])));
        ASSERT_TRUE(eventually([&] { return s.queued() == static_cast<long>(i + 1); }))
            << "request " << i << " waits for the batch thread";
    }
    s.hold_gate.open();
    auto first = held.response();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->body, "row hold");
    ASSERT_TRUE(s.wait_gate.waiting(1)) << "the row left not ready is answered too";
    s.wait_gate.open();
    for (std::size_t i = 0; i < ids.size(); ++i) {
        auto r = clients[i]->response();
        ASSERT_TRUE(r) << ids[i];
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, "row " + ids[i]);
    }
    const std::vector<std::vector<std::string>> expected = {
        {"/row/hold"}, {"/row/1", "/row/2", "/row/wait", "/row/3"}};
    EXPECT_EQ(s.batches(), expected);
    const std::map<std::string, bool> in_hook = {
        {"hold", true}, {"1", true}, {"2", true}, {"3", true}, {"wait", false}};
    EXPECT_EQ(s.answered_in_batch(), in_hook);
    EXPECT_EQ(s.queued(), 0);
}

TEST(HttpBatched, ARowThatWaitsHoldsUpNeitherTheNextBatchNorTheOtherLane) {
    Batched s(1);
    Client waiting(s.port());
    ASSERT_TRUE(waiting.send(get("/row/wait1")));
    ASSERT_TRUE(s.wait_gate.waiting(1));  // on the only thread of the other lane
    Client quick(s.port());
    ASSERT_TRUE(quick.send(get("/row/5")));
    auto five = quick.response();
    ASSERT_TRUE(five) << "a batch is answered while a row of an earlier one waits";
    EXPECT_EQ(five->body, "row 5");
    Client held(s.port());
    ASSERT_TRUE(held.send(get("/row/hold")));
    ASSERT_TRUE(s.hold_gate.waiting(1));
    s.wait_gate.open();
    auto waited = waiting.response();
    ASSERT_TRUE(waited);
    EXPECT_EQ(waited->body, "row wait1");
    Client slow(s.port());
    ASSERT_TRUE(slow.send(get("/slow/a")));
    ASSERT_TRUE(s.slow_gate.waiting(1)) << "a held batch leaves the other lane free";
    s.slow_gate.open();
    s.hold_gate.open();
    for (auto* c : {&slow, &held}) ASSERT_TRUE(c->response());
}

TEST(HttpBatched, ABatchThatThrowsLeavesItsRowsToTheOverflowLane) {
    Batched s;
    Client c(s.port());
    ASSERT_TRUE(c.send(get("/row/throw")));
    auto r = c.response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "row throw");
    EXPECT_EQ(s.answered_in_batch(), (std::map<std::string, bool>{{"throw", false}}));
    ASSERT_TRUE(c.send(get("/row/after")));
    auto after = c.response();
    ASSERT_TRUE(after) << "the batch thread lives on";
    EXPECT_EQ(after->body, "row after");
}

// A deferred request whose single handler throws gets its 500 and its connection closes; the
// others of its batch are answered as usual.
TEST(HttpBatched, AThrowingDeferredRequestGets500AndTheRestOfItsBatchIsAnswered) {
    Batched s;
    Client held(s.port());
    ASSERT_TRUE(held.send(get("/row/hold")));
    ASSERT_TRUE(s.hold_gate.waiting(1));
    Client boom(s.port()), fine(s.port());
    ASSERT_TRUE(boom.send(get("/row/waitboom")));
    ASSERT_TRUE(eventually([&] { return s.queued() == 1; }));
    ASSERT_TRUE(fine.send(get("/row/7")));
    ASSERT_TRUE(eventually([&] { return s.queued() == 2; }));
    s.wait_gate.open();
    s.hold_gate.open();
    auto ok = fine.response();
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->body, "row 7");
    ASSERT_TRUE(held.response());
    auto r = boom.response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 500);
    EXPECT_EQ(r->json().value("error", ""), "internal_error");
    EXPECT_EQ(r->body.find("single handler"), std::string::npos) << "no internal detail";
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(boom.closed_within(2s));
}

}  // namespace
}  // namespace revalidator::http

namespace revalidator::http {
namespace {

// What answers waiting for slow clients hold: revalidator_http_output_bytes.
long output_bytes(const metrics::Registry& registry) {
    const std::string series = "\nrevalidator_http_output_bytes ";
    const std::string text = registry.render();
    const std::size_t at = text.find(series);
    return at == std::string::npos ? -1 : std::stol(text.substr(at + series.size()));
}

// Clients that ask and never read: a body many of them get is held once; past the server's cap
// the lanes refuse with 503 busy while the loop routes (the webhooks) are still answered.
class Output : public OnLoopback {
  public:
    static constexpr std::size_t kBody = 4 << 20;
    static Tuning tuning() {
        Tuning t = small_tuning();
        t.max_output = 6 << 20;
        t.write_timeout_s = 30;
        return t;
    }
    Output() : OnLoopback(tuning()) {
        auto shared = std::make_shared<const std::string>(kBody, 's');
        const auto lane = server_.add_lane({.name = "big", .threads = 2});
        server_.get("/shared", lane, [shared](const Request&, Response& res) {
            res.set_content(shared, "text/plain");
        });
        server_.get("/own", lane, [](const Request&, Response& res) {
            res.set_content(std::string(kBody, 'o'), "text/plain");
        });
        server_.get("/hello",
                    [](const Request&, Response& res) { res.set_content("hello", "text/plain"); });
        serve();
    }
};

TEST(HttpOutput, ASharedBodyIsHeldOnceAndTheCapRefusesLaneReadsOnly) {
    Output s;
    std::vector<std::unique_ptr<Client>> slow;
    for (int i = 0; i < 8; ++i) {
        slow.push_back(std::make_unique<Client>(s.port()));
        ASSERT_TRUE(slow.back()->send(get("/shared")));
    }
    ASSERT_TRUE(eventually([&] { return output_bytes(s.registry()) >= long{Output::kBody}; }));
    // Eight answers pending, one body held.
    EXPECT_LT(output_bytes(s.registry()), long{Output::kBody} + 8 * 1024);
    for (int i = 0; i < 2; ++i) {
        slow.push_back(std::make_unique<Client>(s.port()));
        ASSERT_TRUE(slow.back()->send(get("/own")));
    }
    ASSERT_TRUE(eventually([&] { return output_bytes(s.registry()) > long{6 << 20}; }));
    Client refused(s.port());
    ASSERT_TRUE(refused.send(get("/own")));
    auto busy = refused.response();
    ASSERT_TRUE(busy);
    EXPECT_EQ(busy->status, 503);
    EXPECT_EQ(busy->json().value("error", ""), "busy");
    EXPECT_EQ(busy->header("retry-after"), "1");
    EXPECT_EQ(s.refused("output_full"), 1);
    Client webhook(s.port());
    ASSERT_TRUE(webhook.send(get("/hello")));
    auto hello = webhook.response();
    ASSERT_TRUE(hello);
    EXPECT_EQ(hello->body, "hello");
    // The slow clients leave: what they held is let go.
    slow.clear();
    EXPECT_TRUE(eventually([&] { return output_bytes(s.registry()) == 0; }));
}

// A client that pipelines requests and reads nothing holds at most the cap and one answer.
TEST(HttpOutput, AConnectionThatDoesNotReadHoldsAtMostItsCapAndOneAnswer) {
    Tuning t = small_tuning();
    t.write_timeout_s = 30;
    Running s(t);
    Client c(s.port());
    std::string all;
    for (int i = 0; i < 100; ++i) all += get("/big/100000");
    ASSERT_TRUE(c.send(all));
    ASSERT_TRUE(eventually([&] { return output_bytes(s.registry()) > 0; }));
    long most = 0;
    const auto until = Clock::now() + 300ms;
    while (Clock::now() < until) {
        most = std::max(most, output_bytes(s.registry()));
        std::this_thread::sleep_for(5ms);
    }
    EXPECT_LE(most, long{256 * 1024 + 100000 + 1024});
    EXPECT_GT(most, 0);
}

}  // namespace
}  // namespace revalidator::http
