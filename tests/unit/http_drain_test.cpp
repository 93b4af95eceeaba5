// http::Server::drain() over real loopback sockets: a request already waiting in a socket is
// answered (with Connection: close), an idle keep-alive connection is closed, new connections are
// refused, serve() returns once no connection is left, and at the deadline a request not yet
// whole gets 503 `draining`. Waits are for socket events or polled conditions, never a sleep.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <chrono>
#include <functional>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "http/http_server.hpp"
#include "runtime/metrics.hpp"

namespace revalidator::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = Clock::now() + timeout;
    while (!condition()) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(2ms);
    }
    return true;
}

int connect_to(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) return fd;
    if (fd >= 0) ::close(fd);
    return -1;
}

// A blocking client: raw requests out, whole answers (head and Content-Length body) in.
class Conn {
  public:
    explicit Conn(int port) : fd_(connect_to(port)) {
        if (fd_ < 0) throw std::runtime_error("connect to the test server failed");
    }
    ~Conn() { ::close(fd_); }
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    bool send(const std::string& data) {
        return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) ==
               static_cast<ssize_t>(data.size());
    }
    // The next whole answer's head and body, or nothing within `timeout`.
    std::optional<std::string> answer(std::chrono::milliseconds timeout = 5s) {
        const auto deadline = Clock::now() + timeout;
        while (true) {
            const std::size_t head = buf_.find("\r\n\r\n");
            if (head != std::string::npos) {
                const std::size_t at = buf_.find("Content-Length: ");
                const std::size_t length =
                    at < head ? std::stoul(buf_.substr(at + 16, head - at - 16)) : 0;
                if (buf_.size() >= head + 4 + length) {
                    std::string whole = buf_.substr(0, head + 4 + length);
                    buf_.erase(0, whole.size());
                    return whole;
                }
            }
            if (!read_until(deadline)) return std::nullopt;
        }
    }
    // Whether the server ends the connection cleanly (EOF, no reset) within `timeout`, sending
    // nothing more.
    bool closed_cleanly_within(std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        while (!eof_) {
            if (!read_until(deadline)) return eof_ && !reset_ && buf_.empty();
        }
        return !reset_ && buf_.empty();
    }

  private:
    bool read_until(Clock::time_point deadline) {
        if (eof_) return false;
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd p{fd_, POLLIN, 0};
        if (left <= 0ms || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
        char buf[4096];
        ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
        if (n <= 0) {
            eof_ = true;
            reset_ = n < 0;
            return false;
        }
        buf_.append(buf, static_cast<std::size_t>(n));
        return true;
    }

    int fd_;
    std::string buf_;
    bool eof_ = false;
    bool reset_ = false;
};

const std::string kHello = "GET /hello HTTP/1.1\r\nHost: test\r\n\r\n";

bool says_close(const std::string& answer) {
    return answer.find("\r\nConnection: close\r\n") != std::string::npos;
}

// One event loop, so that a blocked handler holds every connection still.
class Draining : public ::testing::Test {
  protected:
    Draining() : server_(tuning(), registry_) {
        server_.get("/hello",
                    [](const Request&, Response& res) { res.set_content("hello", "text/plain"); });
        server_.get("/block", [this](const Request&, Response& res) {
            entered_.set_value();
            release_.wait_for(10s);
            res.set_content("unblocked", "text/plain");
        });
        port_ = server_.bind("127.0.0.1", 0);
        if (port_ <= 0) throw std::runtime_error("bind failed");
        served_ = std::async(std::launch::async, [this] { server_.serve(); });
    }
    ~Draining() override {
        server_.stop();
        served_.wait();
    }

    static Tuning tuning() {
        Tuning t;
        t.loops = 1;
        t.max_connections = 64;
        t.request_timeout_s = 30;
        t.keep_alive_s = 30;
        return t;
    }

    long refused(const std::string& reason) const {
        const std::string series = "revalidator_http_refused_total{reason=\"" + reason + "\"} ";
        const std::string text = registry_.render();
        const std::size_t at = text.find(series);
        return at == std::string::npos ? 0 : std::stol(text.substr(at + series.size()));
    }

    metrics::Registry registry_;
    Server server_;
    int port_ = -1;
    std::future<void> served_;
    std::promise<void> entered_;
    std::promise<void> unblock_;
    std::shared_future<void> release_ = unblock_.get_future().share();
};

TEST_F(Draining, ARequestWaitingInTheSocketIsAnsweredThenEveryConnectionCloses) {
    Conn idle(port_);
    Conn waiting(port_);
    Conn blocker(port_);
    for (Conn* c : {&idle, &waiting}) {
        ASSERT_TRUE(c->send(kHello));
        auto a = c->answer();
        ASSERT_TRUE(a);
        EXPECT_FALSE(says_close(*a));
    }
    // The loop is held in a handler while `waiting` writes its request and the drain begins.
    ASSERT_TRUE(blocker.send("GET /block HTTP/1.1\r\nHost: test\r\n\r\n"));
    ASSERT_EQ(entered_.get_future().wait_for(5s), std::future_status::ready);
    ASSERT_TRUE(waiting.send(kHello));
    server_.drain(Clock::now() + 30s);
    unblock_.set_value();

    auto blocked = blocker.answer();
    ASSERT_TRUE(blocked);
    EXPECT_NE(blocked->find("unblocked"), std::string::npos);
    auto answered = waiting.answer();
    ASSERT_TRUE(answered) << "the request that waited in the socket was dropped";
    EXPECT_NE(answered->find("200 OK"), std::string::npos) << *answered;
    EXPECT_TRUE(says_close(*answered)) << *answered;

    for (Conn* c : {&waiting, &idle, &blocker}) EXPECT_TRUE(c->closed_cleanly_within(5s));
    EXPECT_EQ(served_.wait_for(5s), std::future_status::ready)
        << "serve() returns once no connection is left, long before the deadline";
}

TEST_F(Draining, NewConnectionsAreRefused) {
    Conn open(port_);  // keeps the server draining
    server_.drain(Clock::now() + 30s);
    EXPECT_TRUE(eventually([&] {
        const int fd = connect_to(port_);
        if (fd < 0) return true;
        ::close(fd);
        return false;
    }));
    EXPECT_TRUE(open.closed_cleanly_within(5s));
}

TEST_F(Draining, AtTheDeadlineARequestNotYetWholeGets503Draining) {
    Conn slow(port_);
    ASSERT_TRUE(slow.send("GET /hello HTTP/1.1\r\nHost: te"));
    // Received, not yet whole: that is what the drain finds at its deadline.
    ASSERT_TRUE(eventually([&] {
        return registry_.render().find("revalidator_http_connections 1") != std::string::npos;
    }));
    server_.drain(Clock::now() + 200ms);
    auto a = slow.answer();
    ASSERT_TRUE(a);
    EXPECT_NE(a->find("503 Service Unavailable"), std::string::npos) << *a;
    EXPECT_NE(a->find("\"draining\""), std::string::npos) << *a;
    EXPECT_TRUE(says_close(*a));
    EXPECT_EQ(served_.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(refused("draining"), 1);
}

}  // namespace
}  // namespace revalidator::http
