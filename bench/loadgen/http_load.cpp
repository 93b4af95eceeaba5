#include "http_load.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <limits>
#include <stdexcept>
#include <vector>

#include "http_response.hpp"

namespace loadgen {

using namespace std::chrono;

const char* to_string(Failure f) {
    switch (f) {
        case Failure::None:
            return "none";
        case Failure::Timeout:
            return "timeout";
        case Failure::Closed:
            return "closed";
        case Failure::Protocol:
            return "protocol";
    }
    return "unknown";
}

namespace {

// How often in-flight requests are checked against the timeout and dropped connections reopened.
constexpr auto kScanEvery = milliseconds(5);
// A connection attempt that failed is retried after this, so a server that is down is not
// hammered in a tight loop.
constexpr auto kReconnectDelay = milliseconds(10);
constexpr std::uint32_t kWakeTag = std::numeric_limits<std::uint32_t>::max();

struct Conn {
    enum class State { Down, Connecting, Idle, Busy };
    int fd = -1;
    State state = State::Down;
    bool in_idle_list = false;
    bool want_out = false;  // EPOLLOUT registered: a request (or the connect) is still being sent
    Request req;
    std::size_t written = 0;
    Clock::time_point since;     // connect started, or request sent
    Clock::time_point retry_at;  // when Down: reopen from then on
    std::string in;              // the answer so far
};

}  // namespace

struct Engine::Impl {
    EngineConfig cfg;
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
    int ep = -1;
    std::vector<Conn> conns;
    // Free connections, oldest first: reusing the one idle longest keeps every connection busy,
    // so none sits idle into the server's keep-alive timeout and races its close (a LIFO would
    // leave the bottom of the stack idle for seconds at low rates).
    std::deque<int> idle;
    int in_flight = 0;
    std::uint64_t connect_failures = 0;
    bool have_pwait2 = true;
    const Sink* sink = nullptr;
    ResponseParser parser;
    std::vector<char> rbuf = std::vector<char>(64 * 1024);

    void watch(Conn& c, int i, bool out) {
        epoll_event ev{};
        ev.events = EPOLLIN | (out ? EPOLLOUT : 0u);
        ev.data.u32 = static_cast<std::uint32_t>(i);
        epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
        c.want_out = out;
    }

    void open(int i, Clock::time_point now) {
        Conn& c = conns[i];
        c.fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        int one = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c.since = now;
        if (::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0 &&
            errno != EINPROGRESS) {
            ::close(c.fd);
            c.fd = -1;
            ++connect_failures;
            c.retry_at = now + kReconnectDelay;
            return;
        }
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.u32 = static_cast<std::uint32_t>(i);
        epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
        c.want_out = true;
        c.state = Conn::State::Connecting;
    }

    // Closes the connection; it is reopened by the next scan once `delay` has passed.
    void drop(int i, Clock::time_point now, Clock::duration delay) {
        Conn& c = conns[i];
        if (c.fd >= 0) ::close(c.fd);  // closing also takes it out of the epoll set
        c.fd = -1;
        c.state = Conn::State::Down;
        c.in.clear();
        c.retry_at = now + delay;
    }

    void make_idle(int i) {
        Conn& c = conns[i];
        c.state = Conn::State::Idle;
        if (!c.in_idle_list) {
            c.in_idle_list = true;
            idle.push_back(i);
        }
    }

    // A connection ready for a request, or -1. Entries of connections that went down since they
    // were listed are discarded here.
    int take_idle() {
        while (!idle.empty()) {
            int i = idle.front();
            idle.pop_front();
            conns[i].in_idle_list = false;
            if (conns[i].state == Conn::State::Idle) return i;
        }
        return -1;
    }
    bool any_idle() {
        while (!idle.empty() && conns[idle.front()].state != Conn::State::Idle) {
            conns[idle.front()].in_idle_list = false;
            idle.pop_front();
        }
        return !idle.empty();
    }

    void finish(int i, int status, Failure failure, Clock::time_point now) {
        Conn& c = conns[i];
        --in_flight;
        (*sink)(Outcome{c.req.tag, status, failure, c.req.intended, now});
    }

    void fail(int i, Failure failure, Clock::time_point now) {
        finish(i, 0, failure, now);
        drop(i, now, Clock::duration::zero());
    }

    void send_more(int i, Clock::time_point now) {
        Conn& c = conns[i];
        const std::string& bytes = *c.req.bytes;
        while (c.written < bytes.size()) {
            ssize_t n =
                ::send(c.fd, bytes.data() + c.written, bytes.size() - c.written, MSG_NOSIGNAL);
            if (n > 0) {
                c.written += static_cast<std::size_t>(n);
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (!c.want_out) watch(c, i, true);
                return;
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else {
                return fail(i, Failure::Closed, now);
            }
        }
        if (c.want_out) watch(c, i, false);
    }

    void assign(int i, const Request& r, Clock::time_point now) {
        Conn& c = conns[i];
        c.req = r;
        c.written = 0;
        c.since = now;
        c.in.clear();
        c.state = Conn::State::Busy;
        ++in_flight;
        send_more(i, now);
    }

    void on_connecting(int i, Clock::time_point now) {
        Conn& c = conns[i];
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            ++connect_failures;
            return drop(i, now, kReconnectDelay);
        }
        watch(c, i, false);
        make_idle(i);
    }

    void on_readable(int i, Clock::time_point now) {
        Conn& c = conns[i];
        ssize_t n = ::recv(c.fd, rbuf.data(), rbuf.size(), 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
        if (c.state == Conn::State::Idle) {
            // The server closed a keep-alive connection between requests (or sent bytes nobody
            // asked for): no request is lost, open a fresh one.
            return drop(i, now, Clock::duration::zero());
        }
        if (n <= 0) return fail(i, Failure::Closed, now);
        c.in.append(rbuf.data(), static_cast<std::size_t>(n));
        switch (parser.parse(c.in)) {
            case ResponseParser::State::Incomplete:
                return;
            case ResponseParser::State::Invalid:
                return fail(i, Failure::Protocol, now);
            case ResponseParser::State::Complete:
                break;
        }
        bool extra = c.in.size() > parser.consumed();  // bytes beyond the answer: not HTTP/1.1
        if (extra) return fail(i, Failure::Protocol, now);
        finish(i, parser.status(), Failure::None, now);
        if (parser.close()) return drop(i, now, Clock::duration::zero());
        c.in.clear();
        make_idle(i);
    }

    void on_event(const epoll_event& ev, Clock::time_point now) {
        int i = static_cast<int>(ev.data.u32);
        Conn& c = conns[i];
        switch (c.state) {
            case Conn::State::Connecting:
                return on_connecting(i, now);
            case Conn::State::Busy:
                if (c.written < c.req.bytes->size() && (ev.events & EPOLLOUT)) send_more(i, now);
                if (c.state == Conn::State::Busy && (ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                    on_readable(i, now);
                return;
            case Conn::State::Idle:
                return on_readable(i, now);
            case Conn::State::Down:
                return;
        }
    }

    // Timeouts of requests and connection attempts; reopening of dropped connections.
    void scan(Clock::time_point now) {
        for (int i = 0; i < static_cast<int>(conns.size()); ++i) {
            Conn& c = conns[i];
            bool late = now - c.since > cfg.timeout;
            if (c.state == Conn::State::Busy && late) {
                fail(i, Failure::Timeout, now);
            } else if (c.state == Conn::State::Connecting && late) {
                ++connect_failures;
                drop(i, now, Clock::duration::zero());
            }
            if (c.state == Conn::State::Down && now >= c.retry_at) open(i, now);
        }
    }

    int wait(epoll_event* events, int max, Clock::duration timeout) {
        timeout = std::max(timeout, Clock::duration::zero());
        int n;
        if (have_pwait2) {
            auto ns = duration_cast<nanoseconds>(timeout).count();
            timespec ts{static_cast<time_t>(ns / 1'000'000'000),
                        static_cast<long>(ns % 1'000'000'000)};
            n = epoll_pwait2(ep, events, max, &ts, nullptr);
            if (n >= 0 || errno != ENOSYS) return n < 0 ? 0 : n;
            have_pwait2 = false;  // a kernel older than 5.11: millisecond waits
        }
        auto ms = duration_cast<milliseconds>(timeout + microseconds(999)).count();
        n = epoll_wait(ep, events, max, static_cast<int>(ms));
        return n < 0 ? 0 : n;
    }
};

Engine::Engine(EngineConfig cfg) : impl_(std::make_unique<Impl>()) {
    impl_->cfg = std::move(cfg);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    std::string port = std::to_string(impl_->cfg.target.port);
    int rc = getaddrinfo(impl_->cfg.target.host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0 || !res) {
        throw std::runtime_error("cannot resolve " + impl_->cfg.target.host + ": " +
                                 gai_strerror(rc));
    }
    std::memcpy(&impl_->addr, res->ai_addr, res->ai_addrlen);
    impl_->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    impl_->ep = epoll_create1(EPOLL_CLOEXEC);
    if (impl_->ep < 0) throw std::runtime_error(std::string("epoll: ") + std::strerror(errno));
    impl_->conns.resize(static_cast<std::size_t>(std::max(1, impl_->cfg.connections)));
}

Engine::~Engine() {
    for (auto& c : impl_->conns) {
        if (c.fd >= 0) ::close(c.fd);
    }
    ::close(impl_->ep);
}

std::uint64_t Engine::connect_failures() const {
    return impl_->connect_failures;
}

std::uint64_t Engine::run(Feed& feed, Clock::time_point until, std::uint64_t max,
                          const Sink& sink) {
    Impl& m = *impl_;
    m.sink = &sink;
    int wake = feed.wake_fd();
    if (wake >= 0) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u32 = kWakeTag;
        epoll_ctl(m.ep, EPOLL_CTL_ADD, wake, &ev);
    }
    std::uint64_t sent = 0;
    auto next_scan = Clock::time_point::min();
    epoll_event events[256];
    while (true) {
        auto now = Clock::now();
        if (now >= next_scan) {
            m.scan(now);
            next_scan = now + kScanEvery;
        }
        bool sending = now < until && sent < max && !feed.exhausted();
        while (sending && m.any_idle()) {
            auto r = feed.next(now);
            if (!r) break;
            m.assign(m.take_idle(), *r, now);
            sending = ++sent < max;
        }
        if (!sending && m.in_flight == 0) break;

        auto wake_at = next_scan;
        if (sending) {
            wake_at = std::min(wake_at, until);
            if (m.any_idle()) wake_at = std::min(wake_at, feed.next_due());
        }
        int n = m.wait(events, 256, wake_at - now);
        now = Clock::now();
        for (int k = 0; k < n; ++k) {
            if (events[k].data.u32 == kWakeTag) {
                std::uint64_t count;
                ssize_t got = ::read(wake, &count, sizeof(count));
                (void)got;  // nothing to read: an earlier wake-up already cleared it
                continue;
            }
            m.on_event(events[k], now);
        }
    }
    if (wake >= 0) epoll_ctl(m.ep, EPOLL_CTL_DEL, wake, nullptr);
    m.sink = nullptr;
    return sent;
}

}  // namespace loadgen
