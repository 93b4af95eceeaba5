#include "event_loop.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

#include "counters.hpp"
#include "lanes.hpp"
#include "runtime/log.hpp"

namespace revalidator::http {

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kLingerBytes = 1 << 20;
constexpr auto kLinger = std::chrono::seconds(2);
constexpr auto kSweepEvery = std::chrono::milliseconds(250);
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
constexpr std::size_t kRequestsPerConnection = 1'000'000;  // then Connection: close
// Draining: a connection idle this long between requests is closed. Longer than a busy sender's
// turn-around, so that its next request is answered (with Connection: close) instead of meeting a
// closed connection.
constexpr auto kDrainIdle = std::chrono::milliseconds(250);
constexpr auto kDrainTick = std::chrono::milliseconds(50);  // wait and sweep period while draining
constexpr int kMaxIov = 16;

}  // namespace

struct Server::EventLoop::Connection {
    Connection(int f, const Limits& l) : fd(f), framer(l) {}
    bool has_input() const { return in_at < in.size(); }
    // The bytes not yet answered: the framer sees the current request start at its [0].
    std::string_view input() const { return std::string_view(in).substr(in_at); }
    void clear_input() {
        in.clear();
        in_at = 0;
    }
    bool writing() const { return !out.empty(); }
    int fd;
    // Received bytes; those before `in_at` are answered. Pipelined requests are answered by
    // moving `in_at`, and the answered prefix is dropped only before the next read, so that N
    // requests in one read cost O(bytes), not N moves of the rest of the buffer.
    std::string in;
    std::size_t in_at = 0;
    // Answers not yet written; `out_at` bytes of the first are. `pending` is what they still hold.
    std::deque<Answer> out;
    std::size_t out_at = 0;
    std::size_t pending = 0;
    RequestFramer framer;
    Phase phase = Phase::Open;
    std::uint32_t interest = EPOLLIN;
    bool close_when_written = false;
    bool continue_sent = false;
    bool busy = false;  // a lane is answering its request; take no other meanwhile
    std::uint64_t serial = 0;
    Clock::time_point request_deadline{};
    Clock::time_point write_deadline{};
    Clock::time_point idle_deadline{};
    std::size_t lingered = 0;
    std::size_t served = 0;
};

Server::EventLoop::EventLoop(Server& server) : server_(server), read_buf_(new char[kReadChunk]) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    spare_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (epoll_ < 0 || wake_ < 0 || spare_ < 0) {
        throw std::runtime_error("epoll/eventfd: out of descriptors");
    }
    // EPOLLEXCLUSIVE: a new connection wakes one loop, not all of them.
    add(server_.listen_fd_, EPOLLIN | EPOLLEXCLUSIVE);
    add(wake_, EPOLLIN);
}

Server::EventLoop::~EventLoop() {
    std::vector<int> fds;
    for (auto& [fd, c] : conns_) fds.push_back(fd);
    for (int fd : fds) drop(fd);
    ::close(epoll_);
    ::close(wake_);
    if (spare_ >= 0) ::close(spare_);
}

void Server::EventLoop::wake() {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_, &one, sizeof(one));
}

void Server::EventLoop::complete(Done done) {
    bool first = false;
    {
        std::lock_guard lock(done_mu_);
        first = done_.empty();
        done_.push_back(std::move(done));
    }
    // The loop takes all that are waiting at once: one wake per batch of answers.
    if (first) wake();
}

void Server::EventLoop::run() {
    epoll_event events[256];
    auto next_sweep = Clock::now() + kSweepEvery;
    while (!server_.stopping_) {
        const auto wait = draining_ ? kDrainTick : kSweepEvery;
        int n = epoll_wait(epoll_, events, 256, static_cast<int>(wait.count()));
        now_ = Clock::now();
        if (!draining_ && server_.draining_) {
            begin_drain();
            next_sweep = now_;
        }
        for (int i = 0; i < n && !server_.stopping_; ++i) {
            const int fd = events[i].data.fd;
            if (fd == server_.listen_fd_) {
                if (!draining_) accept_some();
            } else if (fd == wake_) {
                std::uint64_t count = 0;
                [[maybe_unused]] auto r = ::read(wake_, &count, sizeof(count));
                take_done();
            } else {
                on_event(fd, events[i].events);
            }
        }
        resume_accepting();
        if (now_ >= next_sweep) {
            sweep();
            next_sweep = now_ + (draining_ ? kDrainTick : kSweepEvery);
        }
        if (draining_ && (conns_.empty() || now_ >= drain_deadline_)) break;
    }
    if (draining_) refuse_unfinished();
    for (auto& [fd, c] : conns_) write_some(*c);  // answers already made, best effort
}

void Server::EventLoop::add(int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) < 0) {
        throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
    }
}

void Server::EventLoop::want(int fd, Connection& c, std::uint32_t events) {
    if (c.interest == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &ev);
    c.interest = events;
}

void Server::EventLoop::close_fd(int fd) {
    ::close(fd);
    server_.open_->fetch_sub(1, std::memory_order_relaxed);
}

void Server::EventLoop::drop(int fd) {
    auto it = conns_.find(fd);
    if (it != conns_.end()) {
        for (const auto& a : it->second->out) server_.output_->release(a);
        conns_.erase(it);
    }
    close_fd(fd);
}

// A few at a time, so that under a connection storm one loop does not take them all.
// Returns whether more may be waiting.
bool Server::EventLoop::accept_some() {
    for (int i = 0; i < 16; ++i) {
        sockaddr_storage addr{};
        socklen_t len = sizeof(addr);
        int fd = accept4(server_.listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) shed_one();
            return false;
        }
        if (server_.open_->fetch_add(1, std::memory_order_relaxed) >=
            server_.tuning_.max_connections) {
            const Answer a = refusal_answer({503, "too_many_connections",
                                             "this server has " +
                                                 std::to_string(server_.tuning_.max_connections) +
                                                 " connections open; retry later"});
            const std::string bytes = a.head + (a.body ? *a.body : std::string());
            [[maybe_unused]] auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            server_.counters_->refused("too_many_connections").inc();
            close_fd(fd);
            continue;
        }
        int yes = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
        auto c = std::make_unique<Connection>(fd, server_.tuning_.limits);
        c->serial = ++serials_;
        c->idle_deadline = now_ + std::chrono::seconds(server_.tuning_.keep_alive_s);
        try {
            add(fd, EPOLLIN);
        } catch (const std::exception&) {
            close_fd(fd);
            continue;
        }
        conns_.emplace(fd, std::move(c));
    }
    return true;
}

// Connections the kernel completed before the drain may already hold a request: the first loop
// to drain takes them all, then shuts the listening socket, so that a connection is either served
// here or refused, not reset unanswered. Answers say Connection: close only from here on, once a
// sender that reconnects is refused.
void Server::EventLoop::begin_drain() {
    draining_ = true;
    drain_deadline_ = server_.drain_deadline_.load();
    {
        std::lock_guard lock(server_.listener_mu_);
        if (!server_.listener_shut_) {
            const int rounds = server_.tuning_.backlog / 16 + 1;
            for (int i = 0; i < rounds && accept_some(); ++i) {
            }
            ::shutdown(server_.listen_fd_, SHUT_RDWR);
            server_.listener_shut_ = true;
        }
    }
    if (!accept_paused_) epoll_ctl(epoll_, EPOLL_CTL_DEL, server_.listen_fd_, nullptr);
}

// The drain's deadline: a request still arriving is refused rather than cut off unanswered.
void Server::EventLoop::refuse_unfinished() {
    for (auto& [fd, c] : conns_) {
        if (c->phase != Phase::Open || c->writing() || (!c->has_input() && !c->busy)) continue;
        Refusal r{503, "draining", "this server is shutting down; retry on another instance"};
        server_.counters_->refused(r.code).inc();
        queue(*c, refusal_answer(r));
    }
}

// Out of descriptors, a pending connection stays queued and the listening socket stays readable:
// the loop would spin. Shed one (the spare descriptor makes room to take it and close it), and
// stop watching the listening socket for a moment, since another thread may take the freed
// descriptor first.
void Server::EventLoop::shed_one() {
    server_.counters_->refused("no_descriptors").inc();
    if (spare_ >= 0) {
        ::close(spare_);
        int fd = accept4(server_.listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) ::close(fd);
    }
    spare_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (!accept_paused_) {
        epoll_ctl(epoll_, EPOLL_CTL_DEL, server_.listen_fd_, nullptr);
        accept_paused_ = true;
    }
    accept_again_ = now_ + kAcceptPause;
}

void Server::EventLoop::resume_accepting() {
    if (draining_ || !accept_paused_ || now_ < accept_again_) return;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.fd = server_.listen_fd_;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, server_.listen_fd_, &ev) == 0) {
        accept_paused_ = false;
    } else {
        accept_again_ = now_ + kAcceptPause;  // still short of memory or descriptors
    }
}

void Server::EventLoop::on_event(int fd, std::uint32_t events) {
    auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    Connection& c = *it->second;
    if (c.phase == Phase::Lingering) return linger(fd, c);
    if (events & EPOLLOUT) return process(fd, c);
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_some(fd, c);
}

void Server::EventLoop::read_some(int fd, Connection& c) {
    ssize_t n = ::recv(fd, read_buf_.get(), kReadChunk, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return drop(fd);
    if (n < 0) return;
    if (!c.has_input()) {
        c.request_deadline = now_ + std::chrono::seconds(server_.tuning_.request_timeout_s);
    }
    // The framer's offsets are relative to input(), which this keeps as it is.
    c.in.erase(0, c.in_at);
    c.in_at = 0;
    c.in.append(read_buf_.get(), static_cast<std::size_t>(n));
    process(fd, c);
}

// Answers every complete request buffered, then writes; repeats while writing drains and
// pipelined requests remain. Returns with the connection in one clear state.
void Server::EventLoop::process(int fd, Connection& c) {
    while (true) {
        const bool more = answer_some(c);
        if (!write_some(c)) return drop(fd);
        if (c.writing()) {
            if (c.write_deadline == Clock::time_point{}) {
                c.write_deadline = now_ + std::chrono::seconds(server_.tuning_.write_timeout_s);
            }
            return want(fd, c, EPOLLOUT);
        }
        c.write_deadline = {};
        if (c.close_when_written) return start_linger(fd, c);
        // While busy, its input waits in the kernel: no reads, so a client cannot pile up
        // requests behind a blocking one.
        want(fd, c, c.busy ? 0u : static_cast<std::uint32_t>(EPOLLIN));
        if (!more) break;
    }
    if (!c.has_input()) {
        c.idle_deadline = now_ + std::chrono::seconds(server_.tuning_.keep_alive_s);
    }
}

// Returns true when it stopped only because the connection's output is over its cap.
bool Server::EventLoop::answer_some(Connection& c) {
    while (!c.busy && !c.close_when_written && c.has_input()) {
        if (c.pending > server_.tuning_.max_connection_output) return true;
        switch (c.framer.feed(c.input())) {
            case RequestFramer::State::NeedMore:
                if (c.framer.wants_continue() && !c.continue_sent) {
                    queue(c, Answer{"HTTP/1.1 100 Continue\r\n\r\n", nullptr});
                    c.continue_sent = true;
                }
                return false;
            case RequestFramer::State::Refused:
                queue(c, refusal_answer(c.framer.refusal()));
                server_.counters_->refused(c.framer.refusal().code).inc();
                c.close_when_written = true;
                return false;
            case RequestFramer::State::Complete:
                break;
        }
        const bool last = server_.stopping_ || draining_ || ++c.served >= kRequestsPerConnection;
        Request request = c.framer.take(c.input());
        c.in_at += c.framer.consumed();
        if (!c.has_input()) c.clear_input();
        c.framer.reset();
        c.continue_sent = false;
        dispatch(c, std::move(request), last);
        if (c.busy) return false;  // take_done() goes on once the answer is back
        if (c.has_input()) {
            c.request_deadline = now_ + std::chrono::seconds(server_.tuning_.request_timeout_s);
        }
    }
    return false;
}

// Answers `req` here, or hands it to its route's lane. Nothing it calls may end the loop: a
// failure becomes a 500 for this request alone, and its connection closes.
void Server::EventLoop::dispatch(Connection& c, Request req, bool last) {
    const Router& router = *server_.router_;
    bool close = last || req.wants_close();
    Response res;
    try {
        if (!router.preroute(req, res)) {
            const Router::Route* route = router.find(req);
            if (!route) {
                res.set_status(404);
            } else if (route->lane == Router::kLoop) {
                close = !router.run(route->one, req, res) || close;
            } else if (server_.output_->over()) {
                server_.counters_->refused("output_full").inc();
                res.set_status(503);
                res.set_header("Retry-After", "1");
                res.set_content(error_body("busy", "answers waiting for slow clients hold " +
                                                       std::to_string(server_.output_->held()) +
                                                       " bytes, over the cap of " +
                                                       std::to_string(server_.output_->cap()) +
                                                       "; retry shortly"),
                                "application/json");
            } else {
                Lanes::Task task{this, c.fd, c.serial, std::move(req), route, close, false};
                if (server_.lanes_->submit(route->lane, task)) {
                    c.busy = true;
                    return;
                }
                server_.counters_->refused("busy").inc();
                server_.lanes_->busy(route->lane, res);
                req = std::move(task.request);
            }
        }
        queue(c, router.finish(req, res, close));
    } catch (const std::exception& e) {
        log::error("a request failed on the event loop; answered 500", {{"error", e.what()}});
        internal_error(res);
        close = true;
        queue(c, render(res, false, true, true));
    }
    if (close) c.close_when_written = true;
}

void Server::EventLoop::queue(Connection& c, Answer answer) {
    c.pending += answer.size();
    server_.output_->hold(answer);
    c.out.push_back(std::move(answer));
}

// Returns false when the connection failed.
bool Server::EventLoop::write_some(Connection& c) {
    while (c.writing()) {
        iovec iov[kMaxIov];
        int n = 0;
        std::size_t skip = c.out_at;
        for (const auto& a : c.out) {
            for (std::string_view part :
                 {std::string_view(a.head),
                  a.body ? std::string_view(*a.body) : std::string_view()}) {
                if (part.size() <= skip) {
                    skip -= part.size();
                    continue;
                }
                iov[n++] = {const_cast<char*>(part.data()) + skip, part.size() - skip};
                skip = 0;
                if (n == kMaxIov) break;
            }
            if (n == kMaxIov) break;
        }
        msghdr m{};
        m.msg_iov = iov;
        m.msg_iovlen = static_cast<std::size_t>(n);
        const ssize_t sent = ::sendmsg(c.fd, &m, MSG_NOSIGNAL);
        if (sent < 0 && (errno == EAGAIN || errno == EINTR)) return true;
        if (sent <= 0) return false;
        c.out_at += static_cast<std::size_t>(sent);
        c.pending -= static_cast<std::size_t>(sent);
        while (c.writing() && c.out_at >= c.out.front().size()) {
            c.out_at -= c.out.front().size();
            server_.output_->release(c.out.front());
            c.out.pop_front();
        }
    }
    c.out_at = 0;
    return true;
}

// After a refusal the client may still be sending: closing at once would reset the connection
// and could destroy the answer before it is read. Read and discard for a while, then close.
void Server::EventLoop::start_linger(int fd, Connection& c) {
    ::shutdown(fd, SHUT_WR);
    c.phase = Phase::Lingering;
    c.idle_deadline = now_ + kLinger;
    want(fd, c, EPOLLIN);
}

void Server::EventLoop::linger(int fd, Connection& c) {
    ssize_t n = ::recv(fd, read_buf_.get(), kReadChunk, 0);
    if (n > 0) c.lingered += static_cast<std::size_t>(n);
    if (n == 0 || (n < 0 && errno != EAGAIN) || c.lingered > kLingerBytes) drop(fd);
}

void Server::EventLoop::sweep() {
    std::vector<int> expired;
    for (auto& [fd, c] : conns_) {
        if (deadline_of(*c) <= now_) expired.push_back(fd);
    }
    for (int fd : expired) {
        Connection& c = *conns_.at(fd);
        if (draining_ && idle(c)) {
            // A request may have arrived since the last wait: it is answered, not cut off.
            read_some(fd, c);
            if (conns_.count(fd) == 0 || !idle(c)) continue;
        }
        if (c.phase == Phase::Open && !c.writing() && c.has_input()) {
            Refusal r{408, "request_timeout",
                      "the request did not arrive in full within " +
                          std::to_string(server_.tuning_.request_timeout_s) + " s"};
            server_.counters_->refused(r.code).inc();
            c.clear_input();
            queue(c, refusal_answer(r));
            c.close_when_written = true;
            c.write_deadline = now_ + std::chrono::seconds(server_.tuning_.write_timeout_s);
            process(fd, c);
            continue;
        }
        if (c.writing()) server_.counters_->refused("write_timeout").inc();
        drop(fd);
    }
}

Server::EventLoop::Clock::time_point Server::EventLoop::deadline_of(const Connection& c) const {
    if (c.phase == Phase::Lingering) return c.idle_deadline;
    if (c.busy) return Clock::time_point::max();  // the handler's own timeouts bound it
    if (c.writing()) return c.write_deadline;
    if (c.has_input()) return c.request_deadline;
    if (!draining_) return c.idle_deadline;
    // The idle deadline is keep_alive_s after the connection went idle.
    const auto idle_since = c.idle_deadline - std::chrono::seconds(server_.tuning_.keep_alive_s);
    return std::min(c.idle_deadline, idle_since + kDrainIdle);
}

bool Server::EventLoop::idle(const Connection& c) {
    return c.phase == Phase::Open && !c.busy && !c.has_input() && !c.writing();
}

// The answers the lanes have made: each is written, and its connection takes requests again.
// One that closed meanwhile is gone (or its descriptor is another connection's, which the serial
// tells apart): its answer is dropped.
void Server::EventLoop::take_done() {
    std::vector<Done> done;
    {
        std::lock_guard lock(done_mu_);
        done.swap(done_);
    }
    for (auto& d : done) {
        auto it = conns_.find(d.fd);
        if (it == conns_.end() || it->second->serial != d.serial || !it->second->busy) continue;
        Connection& c = *it->second;
        c.busy = false;
        queue(c, std::move(d.answer));
        c.close_when_written = d.close;
        process(d.fd, c);
    }
}

}  // namespace revalidator::http
