#include "http_server.hpp"

#include <httplib.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <regex>
#include <string_view>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "log.hpp"

// The loop hands each framed request to httplib::Server::process_request, an internal of 0.11.4
// that later versions changed (CMakeLists.txt checks the same at configure time).
static_assert(
    std::string_view(CPPHTTPLIB_VERSION) == "0.11.4",
    "cpp-httplib 0.11.4 required: shared/http/http_server.cpp calls "
    "httplib::Server::process_request, an 0.11.4 internal that later versions changed; "
    "adapt shared/http/http_server.cpp (MemoryStream, process_request) to the new version");

namespace revalidator::http {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kOutputHighWater = 256 * 1024;  // stop taking pipelined requests above
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

struct Endpoint {
    std::string ip;
    int port = -1;
};

Endpoint endpoint_of(const sockaddr_storage& a) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (a.ss_family == AF_INET) {
        const auto& v4 = reinterpret_cast<const sockaddr_in&>(a);
        inet_ntop(AF_INET, &v4.sin_addr, buf, sizeof(buf));
        return {buf, ntohs(v4.sin_port)};
    }
    if (a.ss_family == AF_INET6) {
        const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a);
        inet_ntop(AF_INET6, &v6.sin6_addr, buf, sizeof(buf));
        return {buf, ntohs(v6.sin6_port)};
    }
    return {};
}

const char* reason_phrase(int status) {
    switch (status) {
        case 400:
            return "Bad Request";
        case 408:
            return "Request Timeout";
        case 413:
            return "Payload Too Large";
        case 414:
            return "URI Too Long";
        case 431:
            return "Request Header Fields Too Large";
        case 501:
            return "Not Implemented";
        default:
            return "Service Unavailable";
    }
}

// The raw answer for what never reaches httplib: a refusal, and the connection ends after it.
std::string refusal_response(const Refusal& r) {
    std::string body = error_body(r.code, r.detail);
    return "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n\r\n" + body;
}

// 503 busy for a blocking route whose pool is full: the connection stays open (the client did
// nothing wrong), unless it was to close anyway. A HEAD answer has the headers only.
std::string busy_response(bool head, bool close, int threads, std::size_t queue) {
    std::string body = error_body(
        "busy", "all " + std::to_string(threads) + " threads for this route are busy and " +
                    std::to_string(queue) + " requests wait for them; retry shortly");
    std::string out =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        "Retry-After: 1\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n";
    if (!head) out += body;
    return out;
}

// The method and the path (the target up to '?') of a framed request's first line.
std::pair<std::string_view, std::string_view> method_and_path(std::string_view request) {
    const auto line = request.substr(0, request.find("\r\n"));
    const auto sp = line.find(' ');
    if (sp == std::string_view::npos) return {};
    auto target = line.substr(sp + 1);
    target = target.substr(0, target.find(' '));
    return {line.substr(0, sp), target.substr(0, target.find('?'))};
}

// One framed request in memory, as httplib's parser expects to read it, and the answer it writes.
class MemoryStream final : public httplib::Stream {
  public:
    MemoryStream(std::string_view in, std::string& out, const Endpoint& remote,
                 const Endpoint& local, int fd)
        : in_(in), out_(out), remote_(remote), local_(local), fd_(fd) {}

    using httplib::Stream::write;
    bool is_readable() const override { return at_ < in_.size(); }
    bool is_writable() const override { return true; }
    ssize_t read(char* ptr, size_t size) override {
        size = std::min(size, in_.size() - at_);
        std::memcpy(ptr, in_.data() + at_, size);
        at_ += size;
        return static_cast<ssize_t>(size);
    }
    ssize_t write(const char* ptr, size_t size) override {
        out_.append(ptr, size);
        return static_cast<ssize_t>(size);
    }
    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        ip = remote_.ip;
        port = remote_.port;
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        ip = local_.ip;
        port = local_.port;
    }
    socket_t socket() const override { return fd_; }

  private:
    std::string_view in_;
    std::size_t at_ = 0;
    std::string& out_;
    const Endpoint& remote_;
    const Endpoint& local_;
    int fd_;
};

}  // namespace

// Request and Response are views of httplib's own objects: no header, body or match is copied.
struct Request::Parsed {
    const httplib::Request& req;
};

std::string_view Request::method() const {
    return parsed_.req.method;
}
std::string_view Request::path() const {
    return parsed_.req.path;
}
std::string_view Request::body() const {
    return parsed_.req.body;
}

std::string_view Request::header(std::string_view name) const {
    // httplib's header map compares names without case; the first of a repeated name is read.
    auto [first, end] = parsed_.req.headers.equal_range(std::string(name));
    return first == end ? std::string_view() : std::string_view(first->second);
}

std::string_view Request::match(std::size_t i) const {
    const auto& m = parsed_.req.matches;
    if (i >= m.size() || !m[i].matched) return {};
    return std::string_view(parsed_.req.path)
        .substr(static_cast<std::size_t>(m[i].first - parsed_.req.path.begin()),
                static_cast<std::size_t>(m[i].length()));
}

struct Response::Building {
    httplib::Response& res;
};

int Response::status() const {
    return building_.res.status;
}
void Response::set_status(int status) {
    building_.res.status = status;
}
std::string_view Response::body() const {
    return building_.res.body;
}

void Response::set_content(std::string body, std::string_view content_type) {
    building_.res.body = std::move(body);
    building_.res.headers.erase("Content-Type");
    building_.res.set_header("Content-Type", std::string(content_type));
}

void Response::set_header(std::string_view name, std::string_view value) {
    building_.res.set_header(std::string(name), std::string(value));
}

// httplib's router and parser, driven one framed request at a time.
class Server::Router : public httplib::Server {
  public:
    // Parses the request in `s`, routes it and writes the answer into `s`.
    void answer(httplib::Stream& s, bool last, bool& client_closes) {
        process_request(s, last, client_closes, nullptr);
    }

    enum class Route { Loop, Pool, Batch };

    // Where a request is answered: on the loop, or on the pool (alone, or in a batch) when it is a
    // GET or HEAD whose path a get_blocking() or get_batched() pattern matches. httplib decodes the
    // path before routing, so a path with '%' in it (or a target not in origin form) goes to the
    // pool too, alone: a quick route on the pool costs little, a blocking one on a loop would hold
    // every connection of that loop.
    Route route(std::string_view method, std::string_view path) const {
        if ((blocking_.empty() && batched_.empty()) || (method != "GET" && method != "HEAD")) {
            return Route::Loop;
        }
        if (path.empty() || path.front() != '/' || path.find('%') != std::string_view::npos) {
            return Route::Pool;
        }
        auto matches = [&](const std::regex& re) {
            return std::regex_match(path.begin(), path.end(), re);
        };
        if (std::any_of(batched_.begin(), batched_.end(), matches)) return Route::Batch;
        if (std::any_of(blocking_.begin(), blocking_.end(), matches)) return Route::Pool;
        return Route::Loop;
    }
    // Set before serve(), only read after.
    std::vector<std::regex> blocking_;
    std::vector<std::regex> batched_;
};

namespace {

// The packaged httplib is built with zlib and brotli, and would compress any routed JSON answer on
// its own when Accept-Encoding names gzip or br: after the handler set its ETag, which then names
// other bytes. A handler's body goes out as the handler wrote it; content coding is the handler's
// choice (the read routes make gzip themselves). httplib only looks at the header once the
// handler has returned, on this request object of its own.
void keep_the_handlers_coding(const httplib::Request& req) {
    const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
}

httplib::Server::Handler adapt(Server::Handler handler) {
    return [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
        Request::Parsed parsed{req};
        Response::Building building{res};
        Response response(building);
        handler(Request(parsed), response);
        keep_the_handlers_coding(req);
    };
}

httplib::Server::HandlerWithResponse adapt(Server::Hook hook) {
    return [hook = std::move(hook)](const httplib::Request& req, httplib::Response& res) {
        Request::Parsed parsed{req};
        Response::Building building{res};
        Response response(building);
        const bool handled = hook(Request(parsed), response);
        if (handled) keep_the_handlers_coding(req);
        return handled ? httplib::Server::HandlerResponse::Handled
                       : httplib::Server::HandlerResponse::Unhandled;
    };
}

}  // namespace

std::string error_body(const std::string& code, const std::string& detail) {
    nlohmann::json body = {{"error", code}, {"detail", detail}};
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The threads that run get_blocking() and get_batched() routes, in two lanes. Requests that may
// wait go to `threads` threads, one request each. With a batch hook, batched requests go to a few
// threads of their own (one per loop), each taking all that wait, up to `batch`: few threads make
// big batches and few wake-ups, and a lane of their own keeps them moving while every other
// thread waits on a miss. A task is a copy of one framed request; its answer goes back to the
// loop that owns the connection (Loop::complete), which writes it.
class Server::Pool {
  public:
    struct Task {
        Loop* loop;
        int fd;
        std::uint64_t serial;  // tells the connection apart from a later one on the same fd
        std::string request;
        Endpoint remote;
        Endpoint local;
        bool last;
        bool batched;  // may be taken with others and shown to the batch hook
    };

    Pool(Server& server, int threads, int batch_threads, std::size_t capacity, std::size_t batch)
        : server_(server),
          threads_(std::max(1, threads)),
          batch_threads_(std::max(1, batch_threads)),
          capacity_(capacity),
          batch_(std::max<std::size_t>(1, batch)) {}
    ~Pool() { stop(); }
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    int threads() const { return threads_; }
    std::size_t capacity() const { return capacity_; }

    void start() {
        std::lock_guard lock(mu_);
        if (!workers_.empty() || stopping_) return;
        for (int i = 0; i < threads_; ++i) workers_.emplace_back([this] { run_alone(); });
        if (!hook_) return;
        for (int i = 0; i < batch_threads_; ++i) workers_.emplace_back([this] { run_batches(); });
    }
    // False when `capacity` tasks already wait (or the pool stopped): the caller answers 503.
    bool submit(Task task) {
        const bool batched = task.batched && hook_;
        {
            std::lock_guard lock(mu_);
            if (stopping_ || alone_.size() + batched_.size() >= capacity_) return false;
            (batched ? batched_ : alone_).push_back(std::move(task));
            count_queued();
        }
        (batched ? batch_cv_ : alone_cv_).notify_one();
        return true;
    }
    void set_hook(BatchHook hook) { hook_ = std::move(hook); }
    // Waits for the tasks running (each bounded by its handler's own timeouts); drops the queued.
    void stop() {
        std::vector<std::thread> workers;
        {
            std::lock_guard lock(mu_);
            stopping_ = true;
            alone_.clear();
            batched_.clear();
            count_queued();
            workers.swap(workers_);
        }
        alone_cv_.notify_all();
        batch_cv_.notify_all();
        for (auto& t : workers) t.join();
    }

  private:
    void run_alone();
    void run_batches();
    void answer(Task& task);
    void count_queued() { server_.queued_->store(alone_.size() + batched_.size()); }

    Server& server_;
    const int threads_;
    const int batch_threads_;
    const std::size_t capacity_;
    const std::size_t batch_;
    BatchHook hook_;  // set before serve(), only read after
    std::mutex mu_;
    std::condition_variable alone_cv_;
    std::condition_variable batch_cv_;
    std::deque<Task> alone_;
    std::deque<Task> batched_;
    std::vector<std::thread> workers_;
    bool stopping_ = false;
};

// Registered up front, so that every series exists (at 0) from the start.
struct Server::Counters {
    explicit Counters(metrics::Registry& r) {
        for (const char* reason :
             {"bad_request", "not_implemented", "uri_too_long", "headers_too_large",
              "payload_too_large", "request_timeout", "write_timeout", "too_many_connections",
              "no_descriptors", "draining", "busy"}) {
            by_reason.emplace(reason, &r.counter("revalidator_http_refused_total",
                                                 "Requests or connections refused before "
                                                 "reaching a route",
                                                 std::string("reason=\"") + reason + "\""));
        }
    }
    metrics::Counter& refused(const std::string& reason) { return *by_reason.at(reason); }
    std::map<std::string, metrics::Counter*> by_reason;
};

// One epoll set and the connections it accepted. Only its own thread touches them.
class Server::Loop {
  public:
    explicit Loop(Server& server) : server_(server) {
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
    ~Loop() {
        for (auto& [fd, c] : conns_) close_fd(fd);
        ::close(epoll_);
        ::close(wake_);
        if (spare_ >= 0) ::close(spare_);
    }
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    void wake() {
        std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(wake_, &one, sizeof(one));
    }

    // A blocking route's answer, from a pool thread: written by this loop on its next turn.
    struct Done {
        int fd;
        std::uint64_t serial;
        std::string out;
        bool close;
    };
    void complete(Done done) {
        bool first = false;
        {
            std::lock_guard lock(done_mu_);
            first = done_.empty();
            done_.push_back(std::move(done));
        }
        // The loop takes all that are waiting at once: one wake per batch of answers.
        if (first) wake();
    }

    void run() {
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

  private:
    enum class Phase { Open, Lingering };

    struct Connection {
        Connection(int f, const Limits& l) : fd(f), framer(l) {}
        bool has_input() const { return in_at < in.size(); }
        // The bytes not yet answered: the framer sees the current request start at its [0].
        std::string_view input() const { return std::string_view(in).substr(in_at); }
        void clear_input() {
            in.clear();
            in_at = 0;
        }
        int fd;
        // Received bytes; those before `in_at` are answered. Pipelined requests are answered by
        // moving `in_at`, and the answered prefix is dropped only before the next read, so that N
        // requests in one read cost O(bytes), not N moves of the rest of the buffer.
        std::string in;
        std::size_t in_at = 0;
        std::string out;
        std::size_t out_at = 0;
        RequestFramer framer;
        Endpoint remote;
        Endpoint local;
        Phase phase = Phase::Open;
        std::uint32_t interest = EPOLLIN;
        bool close_when_written = false;
        bool continue_sent = false;
        bool busy = false;  // a blocking route is answering its request; take no other meanwhile
        std::uint64_t serial = 0;
        Clock::time_point request_deadline{};
        Clock::time_point write_deadline{};
        Clock::time_point idle_deadline{};
        std::size_t lingered = 0;
        std::size_t served = 0;
    };

    void add(int fd, std::uint32_t events) {
        epoll_event ev{};
        ev.events = events;
        ev.data.fd = fd;
        if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) < 0) {
            throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
        }
    }

    void want(int fd, Connection& c, std::uint32_t events) {
        if (c.interest == events) return;
        epoll_event ev{};
        ev.events = events;
        ev.data.fd = fd;
        epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &ev);
        c.interest = events;
    }

    void close_fd(int fd) {
        ::close(fd);
        server_.open_->fetch_sub(1, std::memory_order_relaxed);
    }

    void drop(int fd) {
        close_fd(fd);
        conns_.erase(fd);
    }

    // A few at a time, so that under a connection storm one loop does not take them all.
    // Returns whether more may be waiting.
    bool accept_some() {
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
                std::string answer = refusal_response(
                    {503, "too_many_connections",
                     "this server has " + std::to_string(server_.tuning_.max_connections) +
                         " connections open; retry later"});
                [[maybe_unused]] auto n = ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
                server_.counters_->refused("too_many_connections").inc();
                close_fd(fd);
                continue;
            }
            int yes = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
            auto c = std::make_unique<Connection>(fd, server_.tuning_.limits);
            c->serial = ++serials_;
            c->remote = endpoint_of(addr);
            sockaddr_storage local{};
            socklen_t local_len = sizeof(local);
            getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len);
            c->local = endpoint_of(local);
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

    // Connections the kernel completed before the drain may already hold a request: the first
    // loop to drain takes them all, then shuts the listening socket, so that a connection is
    // either served here or refused, not reset unanswered. Answers say Connection: close only
    // from here on, once a sender that reconnects is refused.
    void begin_drain() {
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
    void refuse_unfinished() {
        for (auto& [fd, c] : conns_) {
            if (c->phase != Phase::Open || !c->out.empty() || (!c->has_input() && !c->busy)) {
                continue;
            }
            Refusal r{503, "draining", "this server is shutting down; retry on another instance"};
            server_.counters_->refused(r.code).inc();
            c->out = refusal_response(r);
        }
    }

    // Out of descriptors, a pending connection stays queued and the listening socket stays
    // readable: the loop would spin. Shed one (the spare descriptor makes room to take it and
    // close it), and stop watching the listening socket for a moment, since another thread may
    // take the freed descriptor first.
    void shed_one() {
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

    void resume_accepting() {
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

    void on_event(int fd, std::uint32_t events) {
        auto it = conns_.find(fd);
        if (it == conns_.end()) return;
        Connection& c = *it->second;
        if (c.phase == Phase::Lingering) return linger(fd, c);
        if (events & EPOLLOUT) return process(fd, c);
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_some(fd, c);
    }

    void read_some(int fd, Connection& c) {
        ssize_t n = ::recv(fd, read_buf_, sizeof(read_buf_), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return drop(fd);
        if (n < 0) return;
        if (!c.has_input()) {
            c.request_deadline = now_ + std::chrono::seconds(server_.tuning_.request_timeout_s);
        }
        // The framer's offsets are relative to input(), which this keeps as it is.
        c.in.erase(0, c.in_at);
        c.in_at = 0;
        c.in.append(read_buf_, static_cast<std::size_t>(n));
        process(fd, c);
    }

    // Answers every complete request buffered, then writes; repeats while writing drains and
    // pipelined requests remain. Returns with the connection in one clear state.
    void process(int fd, Connection& c) {
        while (true) {
            const bool more = answer_some(c);
            if (!write_some(c)) return drop(fd);
            if (c.out_at < c.out.size()) {
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

    // Returns true when it stopped only because enough output is waiting.
    bool answer_some(Connection& c) {
        while (!c.busy && !c.close_when_written && c.has_input()) {
            if (c.out.size() - c.out_at > kOutputHighWater) return true;
            switch (c.framer.feed(c.input())) {
                case RequestFramer::State::NeedMore:
                    if (c.framer.wants_continue() && !c.continue_sent) {
                        c.out += "HTTP/1.1 100 Continue\r\n\r\n";
                        c.continue_sent = true;
                    }
                    return false;
                case RequestFramer::State::Refused:
                    c.out += refusal_response(c.framer.refusal());
                    server_.counters_->refused(c.framer.refusal().code).inc();
                    c.close_when_written = true;
                    return false;
                case RequestFramer::State::Complete:
                    break;
            }
            bool client_closes = false;
            const bool last =
                server_.stopping_ || draining_ || ++c.served >= kRequestsPerConnection;
            const std::string_view request = c.framer.request(c.input());
            const auto [method, path] = method_and_path(request);
            if (const auto route = server_.router_->route(method, path);
                route != Router::Route::Loop) {
                Pool& pool = *server_.pool_;
                const bool queued =
                    pool.submit({this, c.fd, c.serial, std::string(request), c.remote, c.local,
                                 last, route == Router::Route::Batch});
                if (queued) {
                    c.busy = true;
                } else {
                    server_.counters_->refused("busy").inc();
                    c.out += busy_response(method == "HEAD", last, pool.threads(), pool.capacity());
                    client_closes = last;
                }
            } else {
                MemoryStream s(request, c.out, c.remote, c.local, c.fd);
                server_.router_->answer(s, last, client_closes);
            }
            c.in_at += c.framer.consumed();
            if (!c.has_input()) c.clear_input();
            c.framer.reset();
            c.continue_sent = false;
            if (c.busy) return false;  // take_done() goes on once the answer is back
            c.close_when_written = client_closes || last;
            if (c.has_input()) {
                c.request_deadline = now_ + std::chrono::seconds(server_.tuning_.request_timeout_s);
            }
        }
        return false;
    }

    // Returns false when the connection failed.
    bool write_some(Connection& c) {
        while (c.out_at < c.out.size()) {
            ssize_t n =
                ::send(c.fd, c.out.data() + c.out_at, c.out.size() - c.out_at, MSG_NOSIGNAL);
            if (n > 0) {
                c.out_at += static_cast<std::size_t>(n);
            } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                return true;
            } else {
                return false;
            }
        }
        c.out.clear();
        c.out_at = 0;
        return true;
    }

    // After a refusal the client may still be sending: closing at once would reset the connection
    // and could destroy the answer before it is read. Read and discard for a while, then close.
    void start_linger(int fd, Connection& c) {
        ::shutdown(fd, SHUT_WR);
        c.phase = Phase::Lingering;
        c.idle_deadline = now_ + kLinger;
        want(fd, c, EPOLLIN);
    }

    void linger(int fd, Connection& c) {
        ssize_t n = ::recv(fd, read_buf_, sizeof(read_buf_), 0);
        if (n > 0) c.lingered += static_cast<std::size_t>(n);
        if (n == 0 || (n < 0 && errno != EAGAIN) || c.lingered > kLingerBytes) drop(fd);
    }

    void sweep() {
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
            if (c.phase == Phase::Open && c.out_at == c.out.size() && c.has_input()) {
                Refusal r{408, "request_timeout",
                          "the request did not arrive in full within " +
                              std::to_string(server_.tuning_.request_timeout_s) + " s"};
                server_.counters_->refused(r.code).inc();
                c.clear_input();
                c.out = refusal_response(r);
                c.close_when_written = true;
                c.write_deadline = now_ + std::chrono::seconds(server_.tuning_.write_timeout_s);
                process(fd, c);
                continue;
            }
            if (c.out_at < c.out.size()) server_.counters_->refused("write_timeout").inc();
            drop(fd);
        }
    }

    Clock::time_point deadline_of(const Connection& c) const {
        if (c.phase == Phase::Lingering) return c.idle_deadline;
        if (c.busy) return Clock::time_point::max();  // the handler's own timeouts bound it
        if (c.out_at < c.out.size()) return c.write_deadline;
        if (c.has_input()) return c.request_deadline;
        if (!draining_) return c.idle_deadline;
        // The idle deadline is keep_alive_s after the connection went idle.
        const auto idle_since =
            c.idle_deadline - std::chrono::seconds(server_.tuning_.keep_alive_s);
        return std::min(c.idle_deadline, idle_since + kDrainIdle);
    }

    static bool idle(const Connection& c) {
        return c.phase == Phase::Open && !c.busy && !c.has_input() && c.out_at == c.out.size();
    }

    // The answers the pool has made: each is written, and its connection takes requests again.
    // One that closed meanwhile is gone (or its descriptor is another connection's, which the
    // serial tells apart): its answer is dropped.
    void take_done() {
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
            c.out += d.out;
            c.close_when_written = d.close;
            process(d.fd, c);
        }
    }

    Server& server_;
    int epoll_ = -1;
    int wake_ = -1;
    int spare_ = -1;  // a descriptor held back for shed_one()
    bool accept_paused_ = false;
    Clock::time_point accept_again_{};
    bool draining_ = false;
    Clock::time_point drain_deadline_{};
    Clock::time_point now_ = Clock::now();
    char read_buf_[kReadChunk];
    std::unordered_map<int, std::unique_ptr<Connection>> conns_;
    std::uint64_t serials_ = 0;
    std::mutex done_mu_;
    std::vector<Done> done_;
};

void Server::Pool::answer(Task& task) {
    std::string out;
    bool client_closes = false;
    {
        MemoryStream s(task.request, out, task.remote, task.local, task.fd);
        server_.router_->answer(s, task.last, client_closes);
    }
    task.loop->complete({task.fd, task.serial, std::move(out), client_closes || task.last});
}

void Server::Pool::run_alone() {
    while (true) {
        Task task;
        {
            std::unique_lock lock(mu_);
            alone_cv_.wait(lock, [this] { return stopping_ || !alone_.empty(); });
            if (stopping_) return;
            task = std::move(alone_.front());
            alone_.pop_front();
            count_queued();
        }
        answer(task);
    }
}

void Server::Pool::run_batches() {
    while (true) {
        std::vector<Task> tasks;
        {
            std::unique_lock lock(mu_);
            batch_cv_.wait(lock, [this] { return stopping_ || !batched_.empty(); });
            if (stopping_) return;
            while (!batched_.empty() && tasks.size() < batch_) {
                tasks.push_back(std::move(batched_.front()));
                batched_.pop_front();
            }
            count_queued();
        }
        std::vector<std::string_view> paths;
        for (const auto& t : tasks) paths.push_back(method_and_path(t.request).second);
        std::vector<bool> ready(tasks.size(), false);
        bool answered = false;
        auto answer_ready = [&] {
            if (answered) return;
            answered = true;
            for (std::size_t i = 0; i < tasks.size(); ++i) {
                if (ready[i]) answer(tasks[i]);
            }
        };
        try {
            hook_(paths, ready, answer_ready);
        } catch (const std::exception& e) {
            log::error("a batch hook failed; its requests are answered one by one",
                       {{"error", e.what()}});
            if (!answered) std::fill(ready.begin(), ready.end(), false);
        }
        answer_ready();
        // The rest may wait: to the front of the other lane, in their order.
        std::size_t waiting = 0;
        {
            std::lock_guard lock(mu_);
            if (stopping_) return;
            for (std::size_t i = tasks.size(); i-- > 0;) {
                if (ready[i]) continue;
                alone_.push_front(std::move(tasks[i]));
                ++waiting;
            }
            count_queued();
        }
        for (std::size_t i = 0; i < waiting; ++i) alone_cv_.notify_one();
    }
}

Server::Server(const Tuning& t, metrics::Registry& registry)
    : tuning_(t),
      router_(std::make_unique<Router>()),
      counters_(std::make_unique<Counters>(registry)) {
    if (tuning_.loops <= 0) {
        tuning_.loops = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    }
    router_->set_keep_alive_max_count(kRequestsPerConnection);
    router_->set_keep_alive_timeout(tuning_.keep_alive_s);
    router_->set_payload_max_length(tuning_.limits.max_body_bytes);
    registry.gauge_fn("revalidator_http_connections", "Open HTTP connections",
                      [open = open_] { return static_cast<double>(open->load()); });
    registry.gauge_fn("revalidator_http_pool_queued",
                      "Requests of routes that may wait (reads) waiting for a pool thread",
                      [queued = queued_] { return static_cast<double>(queued->load()); });
}

Server::~Server() {
    if (pool_) pool_->stop();
    if (listen_fd_ >= 0) ::close(listen_fd_);
}

void Server::get(const std::string& pattern, Handler handler) {
    router_->Get(pattern, adapt(std::move(handler)));
}

Server::Pool& Server::pool() {
    if (!pool_) {
        pool_ = std::make_unique<Pool>(*this, tuning_.blocking_threads, tuning_.loops,
                                       tuning_.blocking_queue, tuning_.blocking_batch);
    }
    return *pool_;
}

void Server::get_blocking(const std::string& pattern, Handler handler) {
    router_->Get(pattern, adapt(std::move(handler)));
    router_->blocking_.emplace_back(pattern);
    pool();
}

void Server::get_batched(const std::string& pattern, Handler handler) {
    router_->Get(pattern, adapt(std::move(handler)));
    router_->batched_.emplace_back(pattern);
    pool();
}

void Server::set_batch_hook(BatchHook hook) {
    pool().set_hook(std::move(hook));
}

void Server::post(const std::string& pattern, Handler handler) {
    router_->Post(pattern, adapt(std::move(handler)));
}

void Server::set_pre_routing(Hook hook) {
    router_->set_pre_routing_handler(adapt(std::move(hook)));
}

void Server::set_error_handler(Hook hook) {
    router_->set_error_handler(adapt(std::move(hook)));
}

void Server::set_logger(Logger logger) {
    router_->set_logger(
        [logger = std::move(logger)](const httplib::Request& req, const httplib::Response& res) {
            Request::Parsed parsed{req};
            // The logger only reads: the answer is already written.
            Response::Building building{const_cast<httplib::Response&>(res)};
            logger(Request(parsed), Response(building));
        });
}

int Server::bind(const std::string& host, int port) {
    // Each connection is a descriptor: make sure the process may open as many as allowed here.
    rlimit lim{};
    const rlim_t want = tuning_.max_connections + 256;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < want) {
        lim.rlim_cur = std::min(want, lim.rlim_max);
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0) getrlimit(RLIMIT_NOFILE, &lim);
        if (lim.rlim_cur < want) {
            tuning_.max_connections = lim.rlim_cur > 512 ? lim.rlim_cur - 256 : lim.rlim_cur / 2;
            log::warn("descriptor limit lowers max connections",
                      {{"max_connections", tuning_.max_connections}});
        }
    }

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return -1;
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, freeaddrinfo);
    for (addrinfo* a = found; a; a = a->ai_next) {
        int fd =
            ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        int yes = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
        if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, tuning_.backlog) == 0) {
            sockaddr_storage bound{};
            socklen_t len = sizeof(bound);
            getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
            listen_fd_ = fd;
            try {
                std::lock_guard lock(loops_mu_);
                for (int i = 0; i < tuning_.loops; ++i) {
                    loops_.push_back(std::make_unique<Loop>(*this));
                }
            } catch (const std::exception& e) {
                log::error("cannot start the HTTP event loops", {{"error", e.what()}});
                loops_.clear();
                return -1;
            }
            return endpoint_of(bound).port;
        }
        ::close(fd);
    }
    return -1;
}

void Server::serve() {
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(loops_mu_);
        if (stopping_ || loops_.empty()) return;
        if (pool_) pool_->start();
        for (std::size_t i = 1; i < loops_.size(); ++i) {
            threads.emplace_back([loop = loops_[i].get()] { loop->run(); });
        }
    }
    loops_[0]->run();
    for (auto& t : threads) t.join();
    // The pool's threads hand answers to the loops: they stop before the loops go.
    if (pool_) pool_->stop();
    std::lock_guard lock(loops_mu_);
    loops_.clear();
}

// Refuses new connections at once (a shut-down listening socket answers them with a reset), so
// that a load balancer or sender moves on; the descriptor is closed with the server.
void Server::stop() {
    std::lock_guard lock(loops_mu_);
    stopping_ = true;
    if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
    for (auto& loop : loops_) loop->wake();
}

void Server::drain(std::chrono::steady_clock::time_point deadline) {
    std::lock_guard lock(loops_mu_);
    drain_deadline_ = deadline;
    draining_ = true;
    for (auto& loop : loops_) loop->wake();
}

}  // namespace revalidator::http
