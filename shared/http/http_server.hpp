// The HTTP server every revalidator process runs: a few epoll event loops own the sockets, frame
// and parse each request once (http_framer.hpp), route it (router.hpp) and write the answer. No
// HTTP library runs on the server side: every byte a client receives is one this folder chose.
//
// Why not a thread-per-connection server (cpp-httplib's own): a client that sends a byte a second
// would hold a thread, so a few hundred of them shut everyone out, and 128 busy connections mean
// 128 threads contending for two cores. Here a connection costs a buffer, not a thread. Handlers
// of loop routes (get, post) must be quick and never block (the ingress's enqueue is; the probes
// are).
//
// A route that must wait (a read from the cache, bounded by its own timeouts) runs in a lane
// (lanes.hpp): its own threads and its own bounded queue, so that one kind of read can never delay
// or refuse another, and the loops stay free for the webhooks. A request that finds its lane's
// queue full, or the server's output over its cap, gets 503 `busy`.
//
// Memory: a connection's answers waiting to be written are capped (no further request of it is
// taken while they are over `max_connection_output`, and it is closed when the client does not
// read for `write_timeout_s`); all connections' together are capped by `max_output`, above which
// the lanes take no work; a large body is shared by every answer that writes it.
//
// Deadlines: a request must arrive in full within `request_timeout_s` of its first byte (408), an
// idle keep-alive connection is closed after `keep_alive_s`. Beyond `max_connections` a new
// connection gets a 503 and is closed. Each refusal is JSON {"error", "detail"} and counted in
// revalidator_http_refused_total.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http_framer.hpp"
#include "message.hpp"
#include "output_budget.hpp"
#include "runtime/metrics.hpp"

namespace revalidator::http {

struct Tuning {
    int loops = 0;  // event-loop threads; 0 means one per core
    std::size_t max_connections = 10'000;
    Limits limits;
    int request_timeout_s = 10;
    int keep_alive_s = 30;
    int write_timeout_s = 10;
    int backlog = 4096;
    std::size_t max_connection_output = 256 * 1024;  // a connection's unwritten answers
    std::size_t max_output = 256 << 20;              // all connections' together, bodies shared
};

// A lane: threads of their own for routes that may wait, and a bounded queue of their requests.
struct LaneSpec {
    std::string name;  // its metric label
    int threads = 1;
    std::size_t queue = 1024;  // requests waiting for a thread; beyond, 503 busy
    std::size_t batch = 1;     // requests of a batched route a thread takes at once
};

class Server {
  public:
    using Handler = std::function<void(const Request&, Response&)>;
    // Returns true when it answered (or rewrote the answer) itself.
    using Hook = std::function<bool(const Request&, Response&)>;
    using Logger = std::function<void(const Request&, const Response&)>;
    // One request of a batch: answered by setting `response`, or `deferred` to its route's
    // single handler, in the route's other lane.
    struct Exchange {
        const Request& request;
        Response response;
        bool deferred = false;
    };
    using BatchHandler = std::function<void(std::span<Exchange>)>;
    struct Lane {
        int id = -1;
    };

    Server(const Tuning& t, metrics::Registry& registry);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Routes: `pattern` is a regular expression the whole (decoded) path must match; its groups
    // are Request::match(). A GET route answers HEAD too. Handlers of get() and post() run on a
    // loop thread, so must not block.
    void get(const std::string& pattern, Handler handler);
    void post(const std::string& pattern, Handler handler);
    // Before serve(): a lane of its own threads and queue (LaneSpec).
    Lane add_lane(const LaneSpec& spec);
    // A GET route whose handler may block for a bounded time: it runs in `lane`. Its connection
    // takes no further request until the answer is written, so pipelined requests keep their
    // order.
    void get(const std::string& pattern, Lane lane, Handler handler);
    // A GET route in `lane` whose waiting requests a thread takes several at once (the lane's
    // batch) and hands to `batch` together; each it defers is queued in `overflow` and answered
    // there by `one`, alone. If `batch` throws, all of its requests are deferred.
    void get_batched(const std::string& pattern, Lane lane, BatchHandler batch, Lane overflow,
                     Handler one);
    // Before routing: answering stops it.
    void set_pre_routing(Hook hook);
    // On every answer of status 400 or more, the router's own (404) and handlers' alike, before
    // it is written.
    void set_error_handler(Hook hook);
    // After each answer is made.
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
    class EventLoop;
    class Router;
    class Lanes;
    struct Counters;

    Tuning tuning_;
    metrics::Registry& registry_;
    std::unique_ptr<Router> router_;
    int listen_fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> draining_{false};
    std::atomic<std::chrono::steady_clock::time_point> drain_deadline_{};
    std::mutex listener_mu_;  // the first loop to drain empties the backlog, then shuts it
    bool listener_shut_ = false;
    // Shared with the registry's gauge, which may outlive the server.
    std::shared_ptr<std::atomic<std::size_t>> open_ = std::make_shared<std::atomic<std::size_t>>(0);
    std::unique_ptr<Counters> counters_;
    std::shared_ptr<OutputBudget> output_;  // shared with the registry's gauge too
    std::unique_ptr<Lanes> lanes_;          // after what its threads use, destroyed before it
    std::mutex loops_mu_;
    std::vector<std::unique_ptr<EventLoop>> loops_;
};

}  // namespace revalidator::http
