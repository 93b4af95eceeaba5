#include "http_server.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "counters.hpp"
#include "event_loop.hpp"
#include "lanes.hpp"
#include "router.hpp"
#include "runtime/log.hpp"

namespace revalidator::http {

namespace {

// Bodies of at least this size are counted once however many answers share them.
constexpr std::size_t kSharedFrom = 64 * 1024;

int port_of(const sockaddr_storage& a) {
    if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
    if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
    return -1;
}

}  // namespace

Server::Server(const Tuning& t, metrics::Registry& registry)
    : tuning_(t),
      registry_(registry),
      router_(std::make_unique<Router>()),
      counters_(std::make_unique<Counters>(registry)),
      output_(std::make_shared<OutputBudget>(t.max_output, kSharedFrom)),
      lanes_(std::make_unique<Lanes>(*this)) {
    if (tuning_.loops <= 0) {
        tuning_.loops = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    }
    registry.gauge_fn("revalidator_http_connections", "Open HTTP connections",
                      [open = open_] { return static_cast<double>(open->load()); });
    registry.gauge_fn(
        "revalidator_http_output_bytes",
        "Bytes of answers waiting to be written to clients, a shared body counted once",
        [output = output_] { return static_cast<double>(output->held()); });
}

Server::~Server() {
    lanes_->stop();
    std::lock_guard lock(loops_mu_);
    loops_.clear();
    if (listen_fd_ >= 0) ::close(listen_fd_);
}

void Server::get(const std::string& pattern, Handler handler) {
    router_->add(Router::route("GET", pattern, std::move(handler)));
}

void Server::post(const std::string& pattern, Handler handler) {
    router_->add(Router::route("POST", pattern, std::move(handler)));
}

Server::Lane Server::add_lane(const LaneSpec& spec) {
    return {lanes_->add(spec, registry_)};
}

void Server::get(const std::string& pattern, Lane lane, Handler handler) {
    auto r = Router::route("GET", pattern, std::move(handler));
    r.lane = lane.id;
    router_->add(std::move(r));
}

void Server::get_batched(const std::string& pattern, Lane lane, BatchHandler batch, Lane overflow,
                         Handler one) {
    auto r = Router::route("GET", pattern, std::move(one));
    r.batch = std::move(batch);
    r.lane = lane.id;
    r.overflow = overflow.id;
    router_->add(std::move(r));
}

void Server::set_pre_routing(Hook hook) {
    router_->pre_routing = std::move(hook);
}

void Server::set_error_handler(Hook hook) {
    router_->on_error = std::move(hook);
}

void Server::set_logger(Logger logger) {
    router_->logger = std::move(logger);
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
                    loops_.push_back(std::make_unique<EventLoop>(*this));
                }
            } catch (const std::exception& e) {
                log::error("cannot start the HTTP event loops", {{"error", e.what()}});
                loops_.clear();
                return -1;
            }
            return port_of(bound);
        }
        ::close(fd);
    }
    return -1;
}

// Stop order: the loops return (stop or drain), then the lanes stop (their answers need a loop),
// then the loops and their connections go.
void Server::serve() {
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(loops_mu_);
        if (stopping_ || loops_.empty()) return;
        lanes_->start();
        for (std::size_t i = 1; i < loops_.size(); ++i) {
            threads.emplace_back([loop = loops_[i].get()] { loop->run(); });
        }
    }
    loops_[0]->run();
    for (auto& t : threads) t.join();
    lanes_->stop();
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
