// One epoll set and the connections it accepted; only its own thread touches them. It reads,
// frames and parses each request (http_framer.hpp), answers loop routes itself, hands the others
// to their lane (lanes.hpp), and writes the answers: its own, and those the lanes send back
// through complete(). Internal to the server (http_server.cpp).
#pragma once

#include <deque>
#include <memory>
#include <unordered_map>

#include "http_server.hpp"
#include "router.hpp"

namespace revalidator::http {

class Server::EventLoop {
  public:
    explicit EventLoop(Server& server);
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    void wake();
    // Serves until the server stops or its drain ends.
    void run();

    // A lane's answer: written by this loop on its next turn.
    struct Done {
        int fd;
        std::uint64_t serial;
        Answer answer;
        bool close;
    };
    void complete(Done done);

  private:
    using Clock = std::chrono::steady_clock;
    enum class Phase { Open, Lingering };
    struct Connection;

    void add(int fd, std::uint32_t events);
    void want(int fd, Connection& c, std::uint32_t events);
    void close_fd(int fd);
    void drop(int fd);
    bool accept_some();
    void begin_drain();
    void refuse_unfinished();
    void shed_one();
    void resume_accepting();
    void on_event(int fd, std::uint32_t events);
    void read_some(int fd, Connection& c);
    void process(int fd, Connection& c);
    bool answer_some(Connection& c);
    void dispatch(Connection& c, Request request, bool last);
    void queue(Connection& c, Answer answer);
    bool write_some(Connection& c);
    void start_linger(int fd, Connection& c);
    void linger(int fd, Connection& c);
    void sweep();
    Clock::time_point deadline_of(const Connection& c) const;
    static bool idle(const Connection& c);
    void take_done();

    Server& server_;
    int epoll_ = -1;
    int wake_ = -1;
    int spare_ = -1;  // a descriptor held back for shed_one()
    bool accept_paused_ = false;
    Clock::time_point accept_again_{};
    bool draining_ = false;
    Clock::time_point drain_deadline_{};
    Clock::time_point now_ = Clock::now();
    std::unique_ptr<char[]> read_buf_;
    std::unordered_map<int, std::unique_ptr<Connection>> conns_;
    std::uint64_t serials_ = 0;
    std::mutex done_mu_;
    std::vector<Done> done_;
};

}  // namespace revalidator::http
