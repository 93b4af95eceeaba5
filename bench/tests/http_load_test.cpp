// The engine against a tiny loopback server: every request is reported once, keep-alive and
// "Connection: close" both work, a silent server becomes timeouts, and a closed port counts as
// connect failures. The server answers by the request path: /ok, /close, /silent.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "feeds.hpp"
#include "http_load.hpp"
#include "webhook.hpp"

using namespace loadgen;
using namespace std::chrono_literals;

namespace {

class TinyServer {
  public:
    TinyServer() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
        socklen_t len = sizeof(a);
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        ::listen(fd_, 64);
        accept_ = std::thread([this] {
            while (true) {
                int c = ::accept(fd_, nullptr, nullptr);
                if (c < 0) return;
                conns_.emplace_back([this, c] { serve(c); });
            }
        });
    }
    ~TinyServer() {
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        accept_.join();
        stop_ = true;
        for (auto& t : conns_) t.join();
    }
    int port() const { return port_; }

  private:
    void serve(int c) {
        timeval tv{0, 100'000};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        std::string in;
        char buf[4096];
        while (!stop_) {
            ssize_t n = ::recv(c, buf, sizeof(buf), 0);
            if (n == 0) break;
            if (n < 0) continue;  // receive timeout: look at stop_ again
            in.append(buf, static_cast<std::size_t>(n));
            auto end = in.find("\r\n\r\n");
            if (end == std::string::npos) continue;
            auto cl = in.find("Content-Length: ");
            std::size_t body = std::stoul(in.substr(cl + 16));
            if (in.size() < end + 4 + body) continue;
            std::string path = in.substr(5, in.find(' ', 5) - 5);
            in.erase(0, end + 4 + body);
            if (path == "/silent") continue;
            std::string r = "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n";
            if (path == "/close") r += "Connection: close\r\n";
            r += "\r\n{}";
            ::send(c, r.data(), r.size(), MSG_NOSIGNAL);
            if (path == "/close") break;
        }
        ::close(c);
    }

    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread accept_;
    std::vector<std::thread> conns_;
};

struct Result {
    std::vector<Outcome> outcomes;
    std::uint64_t sent = 0;
    std::uint64_t connect_failures = 0;
};

Result run(int port, const std::string& path, int connections, std::uint64_t max,
           std::chrono::milliseconds timeout = 1000ms) {
    Url url = *parse_url("http://127.0.0.1:" + std::to_string(port) + path);
    std::vector<std::string> requests(max, post_request(url, "s", "{}"));
    ListFeed feed(requests);
    Engine engine({url, connections, timeout});
    Result r;
    r.sent = engine.run(feed, Clock::now() + 5s, max,
                        [&](const Outcome& o) { r.outcomes.push_back(o); });
    r.connect_failures = engine.connect_failures();
    return r;
}

}  // namespace

TEST(Engine, KeepAliveEveryRequestReportedOnce) {
    TinyServer server;
    Result r = run(server.port(), "/ok", 4, 200);
    EXPECT_EQ(r.sent, 200u);
    ASSERT_EQ(r.outcomes.size(), 200u);
    std::vector<int> seen(200);
    for (const auto& o : r.outcomes) {
        EXPECT_EQ(o.status, 202);
        EXPECT_EQ(o.failure, Failure::None);
        EXPECT_GE(o.done, o.intended);
        ++seen.at(o.tag);
    }
    for (int n : seen) EXPECT_EQ(n, 1);
}

TEST(Engine, ConnectionCloseReconnects) {
    TinyServer server;
    Result r = run(server.port(), "/close", 2, 20);
    ASSERT_EQ(r.outcomes.size(), 20u);
    for (const auto& o : r.outcomes) EXPECT_EQ(o.status, 202);
}

TEST(Engine, SilentServerTimesOut) {
    TinyServer server;
    auto start = Clock::now();
    Result r = run(server.port(), "/silent", 2, 2, 100ms);
    ASSERT_EQ(r.outcomes.size(), 2u);
    for (const auto& o : r.outcomes) EXPECT_EQ(o.failure, Failure::Timeout);
    EXPECT_LT(Clock::now() - start, 2s);
}

TEST(Engine, ClosedPortCountsConnectFailures) {
    int port;
    {
        TinyServer gone;  // a port that was free a moment ago and is closed now
        port = gone.port();
    }
    Url url = *parse_url("http://127.0.0.1:" + std::to_string(port) + "/ok");
    std::vector<std::string> requests(1, post_request(url, "", "{}"));
    ListFeed feed(requests);
    Engine engine({url, 1, 1000ms});
    std::uint64_t sent = engine.run(feed, Clock::now() + 100ms, 1, [](const Outcome&) {});
    EXPECT_EQ(sent, 0u);
    EXPECT_GT(engine.connect_failures(), 0u);
}
