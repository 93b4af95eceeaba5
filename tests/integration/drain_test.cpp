// SIGTERM while senders keep their keep-alive connections busy: every request the
// ingress received is answered, 202 or 503 `draining` with Retry-After; every 202'd event reaches
// the worker before END; and the numbers missing before END are exactly the 503s, so the worker
// resyncs for those and for nothing else. The worker here is a ZeroMQ PULL socket that records
// the frames, so that each number can be accounted for.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <cctype>
#include <csignal>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <zmq.hpp>

#include "stack.hpp"
#include "wire/wire.hpp"

using namespace revalidator;
using namespace revalidator::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

enum class Outcome {
    Accepted,    // 202
    Draining,    // 503 draining, with Retry-After
    NotSent,     // no connection: the request was never written
    Unanswered,  // written, and the connection ended without a whole answer
    Other,       // any other answer
};

struct Answer {
    int status = 0;
    bool close = false;
    std::string retry_after;
    std::string body;
};

// One keep-alive connection, over a raw socket so that a request never written (the connection
// was refused, or the server had closed it while idle) is told apart from one left unanswered.
class KeepAlive {
  public:
    explicit KeepAlive(int port) : port_(port) {}
    ~KeepAlive() { disconnect(); }
    KeepAlive(const KeepAlive&) = delete;
    KeepAlive& operator=(const KeepAlive&) = delete;

    Outcome post(const std::string& body, Answer& a) {
        // A connection the server ended while it was idle is readable (EOF): not reused.
        if (fd_ >= 0) {
            pollfd p{fd_, POLLIN | POLLRDHUP, 0};
            if (::poll(&p, 1, 0) != 0) {
                ++closed_idle_;
                disconnect();
            }
        }
        if (fd_ < 0 && !connect()) return Outcome::NotSent;
        const std::string request =
            "POST /revalidate HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
            std::string(kSecret) +
            "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\n\r\n" + body;
        std::string_view left = request;
        while (!left.empty()) {
            ssize_t n = ::send(fd_, left.data(), left.size(), MSG_NOSIGNAL);
            if (n <= 0) break;
            left.remove_prefix(static_cast<std::size_t>(n));
        }
        const bool whole = left.empty() && read_answer(a);
        if (!whole || a.close) disconnect();
        if (!whole) return Outcome::Unanswered;
        if (a.status == 202) return Outcome::Accepted;
        if (a.status == 503 && a.body.find("\"draining\"") != std::string::npos &&
            !a.retry_after.empty()) {
            return Outcome::Draining;
        }
        return Outcome::Other;
    }

    int closed_idle() const { return closed_idle_; }

  private:
    bool connect() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port_));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0)
            return true;
        disconnect();
        return false;
    }

    void disconnect() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        in_.clear();
    }

    // Reads one whole answer (Content-Length framed) within 10 s.
    bool read_answer(Answer& a) {
        const auto deadline = Clock::now() + 10s;
        std::size_t head_end = std::string::npos;
        std::size_t length = 0;
        while (true) {
            if (head_end == std::string::npos) {
                head_end = in_.find("\r\n\r\n");
                if (head_end != std::string::npos) parse_head(in_.substr(0, head_end), a, length);
            }
            if (head_end != std::string::npos && in_.size() >= head_end + 4 + length) {
                a.body = in_.substr(head_end + 4, length);
                in_.erase(0, head_end + 4 + length);
                return true;
            }
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            pollfd p{fd_, POLLIN, 0};
            if (left <= 0ms || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
            char buf[4096];
            ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
            if (n <= 0) return false;
            in_.append(buf, static_cast<std::size_t>(n));
        }
    }

    static void parse_head(const std::string& head, Answer& a, std::size_t& length) {
        a.status = head.size() >= 12 ? std::atoi(head.substr(9, 3).c_str()) : 0;
        std::size_t at = head.find("\r\n");
        while (at != std::string::npos) {
            std::size_t next = head.find("\r\n", at + 2);
            std::string line =
                head.substr(at + 2, next == std::string::npos ? next : next - at - 2);
            std::size_t colon = line.find(':');
            std::string name = line.substr(0, colon);
            for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            if (name == "content-length") length = std::stoul(value);
            if (name == "connection") a.close = value == "close";
            if (name == "retry-after") a.retry_after = value;
            at = next;
        }
    }

    int port_;
    int fd_ = -1;
    std::string in_;
    int closed_idle_ = 0;
};

// The worker's side: every frame the ingress sends, decoded, until END.
class Recorder {
  public:
    explicit Recorder(int port) : pull_(ctx_, zmq::socket_type::pull) {
        pull_.set(zmq::sockopt::rcvtimeo, 100);
        pull_.bind("tcp://127.0.0.1:" + std::to_string(port));
        thread_ = std::thread([this] { run(); });
    }
    ~Recorder() {
        stop_ = true;
        thread_.join();
    }

    bool ended() const { return ended_; }
    std::vector<Event> events() {
        std::lock_guard lock(mu_);
        return events_;
    }
    int rejected() const { return rejected_; }

  private:
    void run() {
        while (!stop_ && !ended_) {
            zmq::message_t frame;
            if (!pull_.recv(frame)) continue;
            auto e = wire::decode(frame.to_string());
            if (!e) {
                ++rejected_;
                continue;
            }
            std::lock_guard lock(mu_);
            events_.push_back(*e);
            if (e->op == Op::End) ended_ = true;
        }
    }

    zmq::context_t ctx_;
    zmq::socket_t pull_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> ended_{false};
    std::atomic<int> rejected_{0};
    std::mutex mu_;
    std::vector<Event> events_;
    std::thread thread_;
};

struct Sent {
    std::string pk;
    Outcome outcome;
    Answer answer;
};

}  // namespace

TEST(Drain, SigtermAnswersEveryRequestOnBusyKeepAliveConnections) {
    constexpr int kClients = 4;
    constexpr int kMaxRequests = 20'000;  // per client; SIGTERM comes long before
    TempDir dir;
    const int http_port = free_port();
    const int zmq_port = free_port();
    Recorder worker(zmq_port);
    Process ingress({INGRESS_BIN, "--port", std::to_string(http_port), "--worker-endpoint",
                     "tcp://127.0.0.1:" + std::to_string(zmq_port), "--instance-id", "drain",
                     "--http-threads", "2"},
                    dir.path() + "/ingress.log",
                    {.extra_env = {std::string("REVALIDATOR_SECRET=") + kSecret}});
    httplib::Client probe("127.0.0.1", http_port);
    ASSERT_TRUE(eventually([&] {
        auto r = probe.Get("/readyz");
        return (r && r->status == 200) || !ingress.alive();
    }));
    ASSERT_TRUE(ingress.alive()) << ingress.log_tail();

    std::vector<std::vector<Sent>> sent(kClients);
    std::vector<std::atomic<int>> accepted(kClients);
    std::atomic<int> closed_idle{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
        clients.emplace_back([&, c] {
            KeepAlive conn(http_port);
            const auto deadline = Clock::now() + 60s;
            for (int j = 0; j < kMaxRequests && Clock::now() < deadline; ++j) {
                const std::string pk = std::to_string(c * 100'000 + j + 1);
                const nlohmann::json row = {{"id", std::stoll(pk)}};
                Sent s{pk, Outcome::Other, {}};
                s.outcome = conn.post(Stack::webhook_body("UPDATE", row, row), s.answer);
                sent[c].push_back(s);
                if (s.outcome == Outcome::Accepted) ++accepted[c];
                if (s.outcome == Outcome::NotSent) break;  // the ingress is gone
            }
            closed_idle += conn.closed_idle();
        });
    }
    // SIGTERM once every connection is busy.
    const bool busy = eventually([&] {
        for (auto& a : accepted)
            if (a < 3) return false;
        return true;
    });
    auto stopped = std::async(std::launch::async, [&] { return ingress.stop(SIGTERM); });
    for (auto& t : clients) t.join();
    const int status = stopped.get();
    ASSERT_TRUE(busy);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    ASSERT_TRUE(eventually([&] { return worker.ended(); })) << "no END";

    std::set<std::string> acked;
    int draining = 0, unanswered = 0, other = 0, not_sent = 0;
    for (const auto& client : sent) {
        for (const auto& s : client) {
            switch (s.outcome) {
                case Outcome::Accepted:
                    acked.insert(s.pk);
                    break;
                case Outcome::Draining:
                    ++draining;
                    break;
                case Outcome::NotSent:
                    ++not_sent;
                    break;
                case Outcome::Unanswered:
                    ++unanswered;
                    break;
                case Outcome::Other:
                    ++other;
                    ADD_FAILURE() << "unexpected answer " << s.answer.status << " "
                                  << s.answer.body;
                    break;
            }
        }
    }
    EXPECT_EQ(unanswered, 0) << "requests written and never answered";
    EXPECT_EQ(other, 0);
    EXPECT_EQ(not_sent, kClients) << "every client ran until the ingress refused connections";

    // The worker's view: numbers in order, END last, every 202'd event before it, and the
    // numbers missing are the 503s (each took one); nothing 202'd was left unsent.
    std::vector<Event> events = worker.events();
    EXPECT_EQ(worker.rejected(), 0);
    ASSERT_FALSE(events.empty());
    ASSERT_EQ(events.back().op, Op::End);
    std::set<std::string> delivered;
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (i > 0) {
            ASSERT_GT(events[i].seq, events[i - 1].seq) << "out of order at frame " << i;
        }
        if (!is_marker(events[i].op)) delivered.insert(events[i].pk);
    }
    for (const auto& pk : acked) EXPECT_TRUE(delivered.count(pk)) << "202'd, not delivered: " << pk;
    const std::uint64_t missing = events.back().seq - events.size();
    EXPECT_EQ(missing, static_cast<std::uint64_t>(draining));
    EXPECT_NE(ingress.log_tail().find("\"clean\":true"), std::string::npos) << ingress.log_tail();
    std::cout << "[ figures  ] " << acked.size() << " accepted, " << draining
              << " refused while draining, " << closed_idle << " connections closed while idle\n";
}
