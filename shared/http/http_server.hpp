// The HTTP server every revalidator process runs: a few epoll event loops own the sockets, and
// cpp-httplib parses each complete request, routes it and writes the answer into memory. httplib
// stays inside http_server.cpp: routes see only the Request and Response below.
//
// Why not httplib's own server: it holds a thread per keep-alive connection and polls before every
// read. A client that sends a byte a second holds a thread, so a few hundred of them shut everyone
// out, and 128 busy connections mean 128 threads contending for two cores (p99 in tens of ms). Here
// a connection costs a buffer, not a thread: bytes are read without blocking, framed with limits
// (http_framer.hpp), and only a complete request reaches httplib, on the loop thread. Handlers must
// therefore be quick and never block (the ingress's enqueue is; the probes are).
//
// A route that must wait (a read from the cache, bounded by its own timeouts) is registered with
// get_blocking(): its requests are handed to a small pool of threads, and the answer comes back to
// the loop to be written. The loops stay free for the webhooks, whose ack must never wait behind a
// read; the pool and its queue are bounded, and a request that finds them full gets 503 `busy`.
// get_batched() requests have a lane of their own, a thread per loop, and each of those threads
// takes the requests waiting, up to `blocking_batch`, at once: their data can be fetched in one
// round trip (set_batch_hook), and one wake-up answers many requests instead of one. Round trips
// and wake-ups, not work, are what a cache hit costs here.
//
// Deadlines: a request must arrive in full within `request_timeout_s` of its first byte (408), an
// idle keep-alive connection is closed after `keep_alive_s`, and an answer the client does not read
// is dropped after `write_timeout_s`. Beyond `max_connections` a new connection gets a 503 and is
// closed. Each refusal is JSON {"error", "detail"} and counted in revalidator_http_refused_total.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

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
    int blocking_threads = 8;           // threads that run get_blocking() routes, one at a time
    std::size_t blocking_queue = 1024;  // their requests waiting for a thread; beyond, 503 busy
    std::size_t blocking_batch = 32;    // get_batched() requests a batch thread takes at once
};

// {"error": code, "detail": detail}, the body of every rejection.
std::string error_body(const std::string& code, const std::string& detail);

// A parsed request, as a handler sees it: views into the server's copy, valid during the call.
class Request {
  public:
    struct Parsed;  // what the server parsed; only it makes one
    explicit Request(const Parsed& parsed) : parsed_(parsed) {}

    std::string_view method() const;
    std::string_view path() const;
    // The first field of that name (compared without case), or "" when there is none.
    std::string_view header(std::string_view name) const;
    std::string_view body() const;
    // Capture group `i` of the route's pattern that matched the path ("" when there is none).
    std::string_view match(std::size_t i) const;

  private:
    const Parsed& parsed_;
};

// The answer a handler writes; sent as 200 unless it sets a status.
class Response {
  public:
    struct Building;  // the server's answer in the making; only it makes one
    explicit Response(Building& building) : building_(building) {}

    // As set so far: -1 in a handler that has set none.
    int status() const;
    void set_status(int status);
    std::string_view body() const;
    // The body (taken, not copied) and its Content-Type.
    void set_content(std::string body, std::string_view content_type);
    void set_header(std::string_view name, std::string_view value);

  private:
    Building& building_;
};

class Server {
  public:
    using Handler = std::function<void(const Request&, Response&)>;
    // Returns true when it answered (or rewrote the answer) itself.
    using Hook = std::function<bool(const Request&, Response&)>;
    using Logger = std::function<void(const Request&, const Response&)>;
    // Sees the paths (targets up to '?') of a batch, in order; sets ready[i] for each request it
    // can now answer without waiting, then calls `answer`, which answers those on this thread.
    using BatchHook =
        std::function<void(const std::vector<std::string_view>& paths, std::vector<bool>& ready,
                           const std::function<void()>& answer)>;

    Server(const Tuning& t, metrics::Registry& registry);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Routes: `pattern` is a regular expression the whole path must match; its groups are
    // Request::match(). Handlers and hooks run on an event-loop thread, so must not block.
    void get(const std::string& pattern, Handler handler);
    void post(const std::string& pattern, Handler handler);
    // A GET (and HEAD) route whose handler may block for a bounded time: it runs on one of
    // Tuning::blocking_threads, never on a loop. Its connection takes no further request until
    // the answer is written, so pipelined requests keep their order. With blocking_queue requests
    // already waiting, a request gets 503 {"error":"busy"} with Retry-After: 1.
    void get_blocking(const std::string& pattern, Handler handler);
    // A get_blocking() route whose waiting requests a batch thread takes several at once, and
    // shows to the batch hook first (which must be safe to call from several threads). The
    // requests the hook leaves not ready go to the front of the get_blocking() lane, answered one
    // at a time without the hook: one that must wait never holds up the quick ones of its batch.
    // Without a hook, they are get_blocking() requests. Both lanes share `blocking_queue`.
    void get_batched(const std::string& pattern, Handler handler);
    void set_batch_hook(BatchHook hook);
    // Before routing: answering stops it.
    void set_pre_routing(Hook hook);
    // On every answer of status 400 or more, the router's own (404, 400) and handlers' alike,
    // before it is written.
    void set_error_handler(Hook hook);
    // After each answer is written.
    void set_logger(Logger logger);

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
    class Router;
    class Pool;
    struct Counters;

    Tuning tuning_;
    std::unique_ptr<Router> router_;
    int listen_fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> draining_{false};
    std::atomic<std::chrono::steady_clock::time_point> drain_deadline_{};
    std::mutex listener_mu_;  // the first loop to drain empties the backlog, then shuts it
    bool listener_shut_ = false;
    // Shared with the registry's gauge, which may outlive the server.
    std::shared_ptr<std::atomic<std::size_t>> open_ = std::make_shared<std::atomic<std::size_t>>(0);
    std::shared_ptr<std::atomic<std::size_t>> queued_ =
        std::make_shared<std::atomic<std::size_t>>(0);
    std::unique_ptr<Counters> counters_;
    std::unique_ptr<Pool> pool_;  // after the router and counters it uses, destroyed before them
    Pool& pool();                 // made with the first route that needs it
    std::mutex loops_mu_;
    std::vector<std::unique_ptr<Loop>> loops_;
};

}  // namespace revalidator::http
