// The public read door against hostile clients, on the real binaries (docs/read-api.md,
// "Capacity"; docs/security.md). Each attack runs against one ingress serving a list of about
// 8 MB (chunked in the cache) and a 600 KB row, and each asserts that the ingress lives on, that
// its resident memory stays under a stated bound, that webhooks sent meanwhile are acked and
// reach the cache, and that the reads that should be answered are. Timing figures live in
// bench/hostile (printed, not asserted here).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "stack.hpp"

using namespace revalidator::testing;
using namespace std::chrono_literals;

namespace {

// 2,000 rows of ~4 KB: a list of ~8 MB, in parts in the cache; row 1 is 600 KB.
struct Options {
    static StackOptions get() {
        return {
            .ingress_args = {"--read-queue", "32", "--read-fill-wait-ms", "300"},
            .setup_sql = {"INSERT INTO public.articles (title, body) SELECT 'Row ' || g, "
                          "repeat('b', 4000) FROM generate_series(1, 2000) g",
                          "UPDATE public.articles SET body = repeat('x', 600000) WHERE id = 1"}};
    }
};

class HostileReads : public SharedStack<Options> {
  protected:
    void SetUp() override {
        ASSERT_TRUE(stack->list_converges(60s)) << "the big list is written";
        ASSERT_TRUE(stack->converges("1", 30s));
        list_bytes_ = stack->expected_list().size();
        ASSERT_GT(list_bytes_, std::size_t{7'000'000});
        rss_before_ = rss_kb();
    }
    void TearDown() override {
        EXPECT_TRUE(stack->ingress().alive()) << "the ingress lives on";
        SharedStack<Options>::TearDown();
    }

    long rss_kb() {
        std::ifstream status("/proc/" + std::to_string(stack->ingress().pid()) + "/status");
        std::string line;
        while (std::getline(status, line)) {
            if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
        }
        return -1;
    }

    // A webhook for row 2, acked, and its change in the cache.
    void expect_webhooks_acked() {
        const auto title = "acked " + std::to_string(++changes_);
        stack->sql("UPDATE public.articles SET title = '" + title + "' WHERE id = 2");
        auto r = stack->webhook(stack->webhook_for("UPDATE", "2"));
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 202);
        EXPECT_TRUE(stack->converges("2", 20s));
    }

    std::size_t list_bytes_ = 0;
    long rss_before_ = 0;
    int changes_ = 0;
};

// A raw connection: what an HTTP client library would not send, or a client that never reads.
class Conn {
  public:
    explicit Conn(int port, int rcvbuf = 0) {
        fd_ = socket(AF_INET, SOCK_STREAM, 0);
        if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        timeval tv{10, 0};
        setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ok_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    }
    ~Conn() { close(fd_); }
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    bool send_all(const std::string& bytes) {
        return ok_ && ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
                          static_cast<ssize_t>(bytes.size());
    }

    struct Answer {
        int status = 0;
        std::string head;
        std::size_t body_bytes = 0;
        std::string body;  // its first 64 KiB
        bool closed = false;
    };
    // The head of one answer (a HEAD's answer is no more), or "" when none came.
    std::string read_head() {
        std::size_t head_end;
        while ((head_end = in_.find("\r\n\r\n")) == std::string::npos) {
            if (!fill()) return {};
        }
        std::string head = in_.substr(0, head_end + 4);
        in_.erase(0, head_end + 4);
        return head;
    }
    // One answer, its body counted (and kept up to 64 KiB), or status 0 when none came whole.
    Answer read_answer() {
        Answer a;
        a.head = read_head();
        if (a.head.empty()) return a;
        const auto at = a.head.find("Content-Length: ");
        std::size_t length =
            at == std::string::npos ? 0 : std::stoul(a.head.substr(at + 16, a.head.find('\r', at)));
        while (a.body_bytes < length) {
            if (in_.empty() && !fill()) return a;
            const std::size_t take = std::min(length - a.body_bytes, in_.size());
            if (a.body.size() < 65536)
                a.body += in_.substr(0, std::min(take, 65536 - a.body.size()));
            in_.erase(0, take);
            a.body_bytes += take;
        }
        a.status = std::stoi(a.head.substr(9, 3));
        return a;
    }
    bool closed() {
        while (true) {
            if (!in_.empty()) return false;
            if (!fill()) return eof_;
        }
    }

  private:
    bool fill() {
        char buf[65536];
        const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
        if (n <= 0) {
            eof_ = n == 0;
            return false;
        }
        in_.append(buf, static_cast<std::size_t>(n));
        return true;
    }

    int fd_ = -1;
    bool ok_ = false;
    bool eof_ = false;
    std::string in_;
};

std::string get(const std::string& target, const std::string& extra = "") {
    return "GET " + target + " HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n";
}

std::string ranges(int n) {
    std::string r = "Range: bytes=0-";
    for (int i = 1; i < n; ++i) r += ",0-";
    return r + "\r\n";
}

// Before: cpp-httplib answered Range on its own with a multipart body of every range, unbounded:
// 300 ranges on the list ended the process (std::bad_alloc). Now a Range changes nothing.
TEST_F(HostileReads, ARangeStormGetsTheWholeBodyOnceAndCostsNothing) {
    for (const std::string target : {"/articles", "/articles/1"}) {
        for (int n : {1, 5, 40, 2700}) {
            Conn c(stack->ingress_port());
            ASSERT_TRUE(c.send_all(get(target, ranges(n))));
            auto a = c.read_answer();
            ASSERT_EQ(a.status, 200) << target << " with " << n << " ranges: " << a.head;
            EXPECT_EQ(a.head.find("multipart"), std::string::npos) << a.head;
            EXPECT_EQ(a.head.find("Content-Range"), std::string::npos) << a.head;
            EXPECT_NE(a.head.find("Accept-Ranges: none\r\n"), std::string::npos) << a.head;
            if (target == "/articles") {
                EXPECT_EQ(a.body_bytes, list_bytes_) << n << " ranges";
            } else {
                EXPECT_EQ(a.body_bytes, stack->expected_row("1")->size()) << n << " ranges";
            }
        }
    }
    // HEAD says the same of ranges as GET.
    Conn head(stack->ingress_port());
    ASSERT_TRUE(head.send_all("HEAD /articles HTTP/1.1\r\nHost: t\r\n" + ranges(3) + "\r\n"));
    const std::string h = head.read_head();
    EXPECT_EQ(h.substr(0, 12), "HTTP/1.1 200") << h;
    EXPECT_NE(h.find("Accept-Ranges: none\r\n"), std::string::npos) << h;
    EXPECT_LT(rss_kb() - rss_before_, 64 * 1024) << "RSS before: " << rss_before_ << " kB";
    expect_webhooks_acked();
}

// Before: each answer was copied into its connection's buffer: 60 slow readers of an 8 MB list
// took the ingress from 149 MB to 1 GB. Now they share one copy of the list.
TEST_F(HostileReads, SixtySlowReadersOfTheListHoldOneCopyOfIt) {
    // Changed just before, so that the readers meet a list version no one has read yet.
    expect_webhooks_acked();
    std::vector<std::unique_ptr<Conn>> slow;
    // Each reads the head of its answer, then nothing more: all 60 answers wait to be written.
    for (int i = 0; i < 60; ++i) {
        slow.push_back(std::make_unique<Conn>(stack->ingress_port(), 4096));
        ASSERT_TRUE(slow.back()->send_all(get("/articles")));
        const std::string head = slow.back()->read_head();
        ASSERT_EQ(head.substr(0, 12), "HTTP/1.1 200") << i << ": " << head;
    }
    EXPECT_GE(stack->ingress_metric("revalidator_http_output_bytes"),
              static_cast<double>(list_bytes_) * 0.9);
    EXPECT_LT(stack->ingress_metric("revalidator_http_output_bytes"),
              static_cast<double>(list_bytes_) * 1.5);
    EXPECT_LT(rss_kb() - rss_before_, 96 * 1024) << "RSS before: " << rss_before_ << " kB";
    // Hits and webhooks go on meanwhile.
    Conn reader(stack->ingress_port());
    ASSERT_TRUE(reader.send_all(get("/articles/3")));
    EXPECT_EQ(reader.read_answer().status, 200);
    expect_webhooks_acked();
    slow.clear();
    EXPECT_TRUE(eventually(
        [&] { return stack->ingress_metric("revalidator_http_output_bytes") == 0; }, 15s));
}

// Before: a batch's misses went to the front of the lane that served lists too, and both shared
// one queue: 60 connections asking for absent ids made every list read wait or get 503 busy. Now
// the misses fill their own lane; hits and lists are never refused below their own lane's limit.
TEST_F(HostileReads, AMissStormNeverDelaysOrRefusesHitsAndLists) {
    const auto busy = [&](const std::string& lane) {
        return stack->ingress_metric("revalidator_http_lane_busy_total{lane=\"" + lane + "\"}");
    };
    const double rows_busy = busy("rows"), lists_busy = busy("lists"), misses_busy = busy("misses");
    std::atomic<bool> done{false};
    std::atomic<int> misses_answered{0};
    std::vector<std::thread> storm;
    for (int i = 0; i < 60; ++i) {
        storm.emplace_back([&, i] {
            Conn c(stack->ingress_port());
            for (int k = 0; !done && k < 100; ++k) {
                if (!c.send_all(get("/articles/" + std::to_string(900'000 + i * 100 + k)))) break;
                const auto a = c.read_answer();
                if (a.status == 0) break;
                ++misses_answered;
            }
        });
    }
    ASSERT_TRUE(eventually([&] { return busy("misses") > misses_busy; }, 10s))
        << "the storm fills the miss lane";
    std::map<std::string, std::map<int, int>> statuses;
    Conn reader(stack->ingress_port());
    for (int i = 0; i < 20; ++i) {
        for (const std::string target : {"/articles", "/articles/3", "/articles/4"}) {
            ASSERT_TRUE(reader.send_all(get(target)));
            ++statuses[target][reader.read_answer().status];
        }
    }
    expect_webhooks_acked();
    done = true;
    for (auto& t : storm) t.join();
    EXPECT_GT(misses_answered.load(), 0);
    for (const auto& [target, by_status] : statuses) {
        EXPECT_EQ(by_status, (std::map<int, int>{{200, 20}})) << target;
    }
    EXPECT_EQ(busy("rows"), rows_busy);
    EXPECT_EQ(busy("lists"), lists_busy);
}

// Before: the batch lane looked rows up by the raw target while the router cut the path at '#':
// `/articles/1#x` was answered as row 1 after a fill wait on the batch thread. Now the target is
// parsed once: a fragment is refused, and an escaped path names the same row in every lane.
TEST_F(HostileReads, FragmentsQueriesAndEscapesAreOneParseForEveryLane) {
    {
        Conn c(stack->ingress_port());
        ASSERT_TRUE(c.send_all(get("/articles/1#x") + get("/articles/3")));
        auto a = c.read_answer();
        EXPECT_EQ(a.status, 400) << a.head;
        EXPECT_NE(a.body.find("fragment"), std::string::npos) << a.body;
        EXPECT_TRUE(c.closed()) << "nothing after a refused request is taken";
    }
    Conn c(stack->ingress_port());
    ASSERT_TRUE(c.send_all(get("/articles/3")));
    const auto plain = c.read_answer();
    ASSERT_EQ(plain.status, 200);
    const auto etag_of = [](const std::string& head) {
        const auto at = head.find("ETag: ");
        return at == std::string::npos ? "" : head.substr(at, head.find('\r', at) - at);
    };
    for (const std::string target :
         {"/articles/%33", "/articles/3?fields=title", "/articles/%33?"}) {
        ASSERT_TRUE(c.send_all(get(target)));
        const auto a = c.read_answer();
        EXPECT_EQ(a.status, 200) << target;
        EXPECT_EQ(etag_of(a.head), etag_of(plain.head)) << target << " is row 3";
    }
    // HEAD is GET's head on every GET route, the probes too.
    for (const std::string target : {"/healthz", "/readyz", "/metrics", "/articles/3"}) {
        Conn head(stack->ingress_port());
        ASSERT_TRUE(head.send_all("HEAD " + target + " HTTP/1.1\r\nHost: t\r\n\r\n"));
        const std::string h = head.read_head();
        EXPECT_EQ(h.substr(0, 12), "HTTP/1.1 200") << target << ": " << h;
    }
    for (const std::string target : {"/articles/%", "/articles/%2", "/articles/%zz"}) {
        Conn bad(stack->ingress_port());
        ASSERT_TRUE(bad.send_all(get(target)));
        EXPECT_EQ(bad.read_answer().status, 400) << target;
    }
    expect_webhooks_acked();
}

}  // namespace
