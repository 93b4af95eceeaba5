// Which build runs (docs/operations.md, "Which version runs"): each real binary's --version needs
// no other option and connects to nothing; each process's /metrics has revalidator_build_info with
// the same version and commit, and the process series with values that agree with what the test
// itself reads of the process in /proc.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>

#include "stack.hpp"

using namespace revalidator::testing;
using namespace std::chrono_literals;

namespace {

// A TCP port that listens and never accepts: a connection to it, even one already given up, stays
// in its queue, where knocked() sees it.
class Listener {
  public:
    Listener() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
            ::listen(fd_, 16) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            throw std::runtime_error("cannot listen on 127.0.0.1");
        }
        port_ = ntohs(addr.sin_port);
    }
    ~Listener() { ::close(fd_); }
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    std::string port() const { return std::to_string(port_); }
    bool knocked() const {
        pollfd p{fd_, POLLIN, 0};
        return ::poll(&p, 1, 0) > 0;
    }

  private:
    int fd_;
    int port_ = 0;
};

struct Build {
    std::string version, commit;
};

// Runs `argv` (ending in --version) to its exit, within 10 s; returns its exit code and output.
std::pair<std::optional<int>, std::string> run_version(const std::vector<std::string>& argv,
                                                       const std::string& log) {
    Process p(argv, log);
    const auto code = p.wait_for(10s);
    return {code, read_file(log)};
}

// The version and commit of a --version line of `program`; fails the test when it has another form.
Build parse_version(const std::string& program, const std::string& out) {
    static const std::regex line(
        R"(^(\S+) (\d+\.\d+\.\d+) \(commit ([0-9a-f]{12}(-dirty)?|unknown)\)\n$)");
    std::smatch m;
    if (!std::regex_match(out, m, line) || m[1] != program) {
        ADD_FAILURE() << program << " --version printed: " << out;
        return {};
    }
    return {m[2], m[3]};
}

Build version_of(const std::string& bin, const std::string& program, const std::string& log) {
    const auto [code, out] = run_version({bin, "--version"}, log);
    EXPECT_EQ(code, 0) << out;
    return parse_version(program, out);
}

}  // namespace

TEST(Identity, VersionNeedsNoOtherOptionAndConnectsToNothing) {
    TempDir dir;
    const Build ingress = version_of(INGRESS_BIN, "revalidator-ingress", dir.path() + "/i.log");
    const Build worker = version_of(WORKER_BIN, "revalidator-worker", dir.path() + "/w.log");
    EXPECT_EQ(ingress.version, REVALIDATOR_PROJECT_VERSION) << "CMakeLists.txt's project(VERSION)";
    EXPECT_EQ(worker.version, ingress.version);
    EXPECT_EQ(worker.commit, ingress.commit);

    // Given everything it would connect to, each still only prints its line: nothing knocks.
    Listener target;
    const std::string at = "127.0.0.1:" + target.port();
    const std::vector<std::pair<std::string, std::vector<std::string>>> runs = {
        {"revalidator-ingress",
         {INGRESS_BIN, "--worker-endpoint", "tcp://" + at, "--memcached", at, "--read-postgres-url",
          "host=127.0.0.1 port=" + target.port(), "--version"}},
        {"revalidator-worker",
         {WORKER_BIN, "--postgres-url", "host=127.0.0.1 port=" + target.port(), "--memcached", at,
          "--version"}},
    };
    int n = 0;
    for (const auto& [program, argv] : runs) {
        const auto [code, out] = run_version(argv, dir.path() + "/" + std::to_string(++n) + ".log");
        EXPECT_EQ(code, 0) << out;
        const Build b = parse_version(program, out);
        EXPECT_EQ(b.version, ingress.version);
        EXPECT_EQ(b.commit, ingress.commit);
    }
    EXPECT_FALSE(target.knocked()) << "--version connected to " << at;
}

namespace {

struct Page {
    std::map<std::string, double> values;  // by series, labels included
    std::string text;
    double operator[](const std::string& series) const {
        const auto it = values.find(series);
        return it == values.end() ? std::nan("") : it->second;
    }
};

std::optional<Page> metrics_page(int port) {
    httplib::Client c("127.0.0.1", port);
    const auto r = c.Get("/metrics");
    if (!r || r->status != 200) return std::nullopt;
    Page page{{}, r->body};
    std::istringstream lines(r->body);
    std::string line;
    while (std::getline(lines, line)) {
        const auto space = line.rfind(' ');
        if (line.empty() || line[0] == '#' || space == std::string::npos) continue;
        page.values[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return page;
}

// What the test reads of process `pid` itself, in files the series are not computed from.
double resident_bytes(pid_t pid) {
    std::istringstream status(read_file("/proc/" + std::to_string(pid) + "/status"));
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) * 1024;  // kB
    }
    return 0;
}
double open_fds(pid_t pid) {
    const std::filesystem::directory_iterator fds("/proc/" + std::to_string(pid) + "/fd");
    return static_cast<double>(std::distance(fds, std::filesystem::directory_iterator()));
}

void expect_identity(const std::string& program, Process& p, int port, const Build& build,
                     double started_after) {
    SCOPED_TRACE(program);
    std::optional<Page> page;
    ASSERT_TRUE(eventually([&] { return (page = metrics_page(port)).has_value(); }, 20s))
        << read_file(p.log_path());
    for (const char* type :
         {"# TYPE revalidator_build_info gauge\n", "# TYPE process_cpu_seconds_total counter\n",
          "# TYPE process_resident_memory_bytes gauge\n", "# TYPE process_open_fds gauge\n",
          "# TYPE process_max_fds gauge\n", "# TYPE process_start_time_seconds gauge\n"}) {
        EXPECT_NE(page->text.find(type), std::string::npos) << type << page->text;
    }
    EXPECT_EQ((*page)["revalidator_build_info{version=\"" + build.version + "\",commit=\"" +
                      build.commit + "\"}"],
              1)
        << page->text;

    const double cpu = (*page)["process_cpu_seconds_total"];
    const double now = static_cast<double>(std::time(nullptr));
    EXPECT_GE(cpu, 0);
    EXPECT_LE(cpu, 2 * (now - started_after + 1));  // two cores at most, since it started

    // /proc/stat's btime is whole seconds, so a start may read up to a second early.
    const double start = (*page)["process_start_time_seconds"];
    EXPECT_GE(start, started_after - 2);
    EXPECT_LE(start, now + 1);

    const double rss = resident_bytes(p.pid());
    EXPECT_GT(rss, 0);
    EXPECT_GT((*page)["process_resident_memory_bytes"], rss / 2);
    EXPECT_LT((*page)["process_resident_memory_bytes"], rss * 2);

    const double fds = (*page)["process_open_fds"];
    EXPECT_GE(fds, 3);
    EXPECT_NEAR(fds, open_fds(p.pid()), 16);  // connections come and go between the two reads
    rlimit mine{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &mine), 0);
    // Inherited from the test, and only ever raised by the HTTP server.
    EXPECT_GE((*page)["process_max_fds"], static_cast<double>(mine.rlim_cur));
    EXPECT_GT((*page)["process_max_fds"], fds);
}

}  // namespace

// Neither process needs its peers for this: the worker runs without a reachable Postgres or
// Memcached, the ingress without a worker.
TEST(Identity, BothProcessesExportTheBuildAndTheProcessSeries) {
    TempDir dir;
    const Build build = version_of(WORKER_BIN, "revalidator-worker", dir.path() + "/v.log");
    const double started_after = static_cast<double>(std::time(nullptr));
    const int admin_port = free_port();
    const std::string zmq = "tcp://127.0.0.1:" + std::to_string(free_port());
    Process worker(
        {WORKER_BIN, "--postgres-url", "host=127.0.0.1 port=" + std::to_string(free_port()),
         "--memcached", "127.0.0.1:" + std::to_string(free_port()), "--bind", zmq, "--admin-port",
         std::to_string(admin_port)},
        dir.path() + "/worker.log");
    const int ingress_port = free_port();
    Process ingress({INGRESS_BIN, "--insecure-no-auth", "--port", std::to_string(ingress_port),
                     "--worker-endpoint", zmq},
                    dir.path() + "/ingress.log");

    expect_identity("revalidator-worker", worker, admin_port, build, started_after);
    expect_identity("revalidator-ingress", ingress, ingress_port, build, started_after);

    for (Process* p : {&ingress, &worker}) {
        ::kill(p->pid(), SIGTERM);
        EXPECT_EQ(p->wait_for(20s), 0) << read_file(p->log_path());
    }
}
