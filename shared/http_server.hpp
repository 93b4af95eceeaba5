// The HTTP server every revalidator process runs: a few epoll event loops own the sockets, and
// cpp-httplib parses each complete request, routes it and writes the answer into memory.
//
// Why not httplib's own server: it holds a thread per keep-alive connection and polls before every
// read. A client that sends a byte a second holds a thread, so a few hundred of them shut everyone
// out, and 128 busy connections mean 128 threads contending for two cores (p99 in tens of ms). Here
// a connection costs a buffer, not a thread: bytes are read without blocking, framed with limits
// (http_framer.hpp), and only a complete request reaches httplib, on the loop thread. Handlers must
// therefore be quick and never block (the ingress's enqueue is; the probes are).
//
// Deadlines: a request must arrive in full within `request_timeout_s` of its first byte (408), an
// idle keep-alive connection is closed after `keep_alive_s`, and an answer the client does not read
// is dropped after `write_timeout_s`. Beyond `max_connections` a new connection gets a 503 and is
// closed. Each refusal is JSON {"error", "detail"} and counted in revalidator_http_refused_total.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <httplib.h>

#include "http_framer.hpp"
#include "metrics.hpp"

namespace revalidator::http {

struct Tuning {
    int loops = 0;  // event-loop threads; 0 means one per core
    std::size_t max_connections = 10'000;
    Limits limits;
    int request_timeout_s = 10;
    int keep_alive_s = 30;
    int write_timeout_s = 10;
    int backlog = 4096;
};

// {"error": code, "detail": detail}, the body of every rejection.
std::string error_body(const std::string& code, const std::string& detail);

class Server : private httplib::Server {
  public:
    Server(const Tuning& t, metrics::Registry& registry);
    ~Server() override;

    // Routes and hooks, as httplib declares them. Handlers run on an event-loop thread.
    using httplib::Server::Get;
    using httplib::Server::Post;
    using httplib::Server::set_error_handler;
    using httplib::Server::set_logger;
    using httplib::Server::set_pre_routing_handler;

    // Binds and listens on host:port (0 picks a free port); returns the port, or -1.
    int bind(const std::string& host, int port);
    // Serves until stop() or the end of drain(); returns once every loop has closed its
    // connections.
    void serve();
    // Safe from any thread, before or during serve().
    void stop();
    // A graceful stop, safe from any thread: connections the kernel has already completed are
    // taken, then new ones are refused. The open ones are still served, every answer now with
    // Connection: close, and one idle between requests is closed; serve() returns once none is
    // left, or at `deadline`, when a request not yet whole gets 503 `draining`.
    void drain(std::chrono::steady_clock::time_point deadline);

  private:
    class Loop;
    struct Counters;

    Tuning tuning_;
    int listen_fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> draining_{false};
    std::atomic<std::chrono::steady_clock::time_point> drain_deadline_{};
    std::mutex listener_mu_;  // the first loop to drain empties the backlog, then shuts it
    bool listener_shut_ = false;
    // Shared with the registry's gauge, which may outlive the server.
    std::shared_ptr<std::atomic<std::size_t>> open_ = std::make_shared<std::atomic<std::size_t>>(0);
    std::unique_ptr<Counters> counters_;
    std::mutex loops_mu_;
    std::vector<std::unique_ptr<Loop>> loops_;
};

}  // namespace revalidator::http
