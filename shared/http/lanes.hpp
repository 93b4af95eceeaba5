// The lanes: for each kind of read that may wait, threads of its own and a bounded queue of its
// own, so that a storm of one kind (misses waiting on the worker) never delays or refuses another
// (hits, lists). A task is one parsed request; its answer goes back to the loop that owns the
// connection (EventLoop::complete), which writes it. A thread of a lane with a batch above 1 takes
// the requests waiting, up to the batch, at once: a batched route's handler then reads all their
// data in one round trip, and one wake-up answers many requests (docs/read-api.md, "Capacity").
//
// Threads: started by Server::serve() before the loops run, stopped by it after the loops return
// (a task's answer needs its loop); stop() waits for the tasks running, which their handlers'
// own timeouts bound, and drops the queued ones with their connections.
#pragma once

#include <condition_variable>
#include <deque>
#include <thread>

#include "router.hpp"

namespace revalidator::http {

class Server::Lanes {
  public:
    struct Task {
        EventLoop* loop;
        int fd;
        std::uint64_t serial;  // tells the connection apart from a later one on the same fd
        Request request;
        const Router::Route* route;
        bool last;      // the connection closes after this answer
        bool deferred;  // a batch deferred it: answered alone, by the route's single handler
    };

    explicit Lanes(Server& server) : server_(server) {}
    ~Lanes() { stop(); }
    Lanes(const Lanes&) = delete;
    Lanes& operator=(const Lanes&) = delete;

    int add(const LaneSpec& spec, metrics::Registry& registry);
    void start();
    void stop();
    // Takes `task` (moves from it) unless the lane's queue is full or the lanes stopped; then
    // returns false, `task` untouched, and the caller answers `busy`.
    bool submit(int lane, Task& task);
    // 503 busy for a request `lane` could not take.
    void busy(int lane, Response& res) const;
    bool empty() const { return lanes_.empty(); }

  private:
    struct Lane {
        LaneSpec spec;
        std::mutex mu;
        std::condition_variable cv;
        std::deque<Task> queue;
        std::shared_ptr<std::atomic<std::size_t>> queued =
            std::make_shared<std::atomic<std::size_t>>(0);
        metrics::Counter* refused = nullptr;
        std::vector<std::thread> threads;
    };

    void run(Lane& lane);
    void answer(Task& task);
    void answer_batch(std::vector<Task>& tasks);
    void complete(Task& task, Response& res, bool failed);

    Server& server_;
    std::vector<std::unique_ptr<Lane>> lanes_;  // fixed once serve() starts
    std::atomic<bool> stopping_{false};
};

}  // namespace revalidator::http
