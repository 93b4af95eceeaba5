#include "servers.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>

namespace revalidator::testing {

namespace fs = std::filesystem;

namespace {

sockaddr_in loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    return addr;
}

}  // namespace

// Below Linux's ephemeral range (32768-60999), so that no outgoing connection takes the port
// between this check and the server binding it. Tests run in parallel processes and restart
// servers on the ports they were given, so a port is also claimed with a lock file held until
// this process exits: another test cannot be handed a port that was freed only for a restart.
int free_port() {
    static std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> pick(20000, 32767);
    const fs::path claims = fs::temp_directory_path() / "revalidator-test-ports";
    fs::create_directories(claims);
    for (int attempt = 0; attempt < 1000; ++attempt) {
        int port = pick(rng);
        int claim =
            open((claims / std::to_string(port)).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (claim < 0) continue;
        if (flock(claim, LOCK_EX | LOCK_NB) != 0) {
            close(claim);
            continue;
        }
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int yes = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
        const sockaddr_in addr = loopback(port);
        bool ok = bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
        close(fd);
        if (ok) return port;  // the claim stays open, and locked, until the process exits
        close(claim);
    }
    throw std::runtime_error("no free port");
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (condition()) return true;
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

TempDir::TempDir() {
    // A test that kills a test process on purpose has it make its directories inside its own, so
    // that they go when its own does (tests/integration/orphans_test.cpp).
    const char* parent = std::getenv("REVALIDATOR_TEST_TMPDIR");
    std::string tmpl = ((parent && *parent ? fs::path(parent) : fs::temp_directory_path()) /
                        "revalidator-test.XXXXXX")
                           .string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
    fs::permissions(path_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
}

TempDir::~TempDir() {
    if (std::getenv("REVALIDATOR_KEEP_TEST_DIRS")) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
}

namespace {

std::string pg_bin() {
    std::string best;
    for (const auto& e : fs::directory_iterator("/usr/lib/postgresql")) {
        if (fs::exists(e.path() / "bin" / "initdb") && e.path().string() > best)
            best = e.path().string();
    }
    if (best.empty())
        throw std::runtime_error(
            "no Postgres server in /usr/lib/postgresql (run scripts/install-deps)");
    return best + "/bin/";
}

// Postgres refuses to run as root, and Memcached without -u does too; as root, both run as the
// users the Debian packages create.
std::string server_user(const char* user) {
    return geteuid() == 0 ? user : "";
}

}  // namespace

PostgresServer::PostgresServer(const std::string& dir)
    : dir_(dir + "/pg"), data_(dir_ + "/data"), port_(free_port()) {
    fs::create_directories(dir_);
    if (geteuid() == 0) {
        passwd* pw = getpwnam("postgres");
        if (!pw)
            throw std::runtime_error("user 'postgres' missing (install the postgresql package)");
        if (chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
            throw std::runtime_error("chown " + dir_);
    }
    int rc = run({pg_bin() + "initdb", "-D", data_, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync"},
                 dir + "/initdb.log", {.user = server_user("postgres")});
    if (rc != 0) throw std::runtime_error("initdb failed, see " + dir + "/initdb.log");
    start();
}

PostgresServer::~PostgresServer() {
    stop();
}

void PostgresServer::start() {
    proc_ = std::make_unique<Process>(
        std::vector<std::string>{pg_bin() + "postgres", "-D", data_, "-p", std::to_string(port_),
                                 "-c", "listen_addresses=127.0.0.1", "-c",
                                 "unix_socket_directories=" + dir_, "-c", "fsync=off", "-c",
                                 "synchronous_commit=off", "-c", "full_page_writes=off"},
        dir_ + "/postgres.log", ProcessOptions{.user = server_user("postgres")});
    const std::string port = std::to_string(port_);
    bool up = eventually(
        [&] {
            return !proc_->alive() ||
                   run({pg_bin() + "pg_isready", "-q", "-h", "127.0.0.1", "-p", port, "-t", "1"},
                       dir_ + "/pg_isready.log") == 0;
        },
        std::chrono::seconds(60));
    if (!up || !proc_->alive())
        throw std::runtime_error("postgres did not start: " + proc_->log_tail());
}

void PostgresServer::stop() {
    if (proc_) proc_->stop(SIGINT, std::chrono::seconds(30));  // SIGINT: fast shutdown
    proc_.reset();
}

void PostgresServer::freeze() {
    if (!proc_) return;
    const pid_t postmaster = proc_->pid();
    kill(postmaster, SIGSTOP);  // first, so that it starts no backend the list below misses
    frozen_ = {postmaster};
    std::ifstream children("/proc/" + std::to_string(postmaster) + "/task/" +
                           std::to_string(postmaster) + "/children");
    for (pid_t child; children >> child;) {
        kill(child, SIGSTOP);
        frozen_.push_back(child);
    }
}

void PostgresServer::thaw() {
    for (pid_t pid : frozen_) kill(pid, SIGCONT);
    frozen_.clear();
}

std::string PostgresServer::url() const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres";
}

namespace {

// Polls until 127.0.0.1:`port` accepts a connection, or `proc` died.
bool accepts(int port, Process& proc) {
    return eventually([&] {
               int fd = socket(AF_INET, SOCK_STREAM, 0);
               const sockaddr_in addr = loopback(port);
               bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
               close(fd);
               return ok || !proc.alive();
           }) &&
           proc.alive();
}

}  // namespace

MemcachedServer::MemcachedServer(const std::string& dir, const std::string& name)
    : dir_(dir), name_(name), port_(free_port()) {
    start();
}

void MemcachedServer::start() {
    std::vector<std::string> argv{"memcached", "-l", "127.0.0.1", "-p", std::to_string(port_),
                                  "-U",        "0",  "-m",        "256"};
    proc_ = std::make_unique<Process>(argv, dir_ + "/" + name_ + ".log",
                                      ProcessOptions{.user = server_user("nobody")});
    if (!accepts(port_, *proc_))
        throw std::runtime_error("memcached did not start: " + proc_->log_tail());
}

void MemcachedServer::stop() {
    proc_.reset();
}

TwemproxyServer::TwemproxyServer(const std::string& dir, const std::vector<std::string>& servers)
    : port_(free_port()) {
    const std::string conf = dir + "/twemproxy.yml";
    {
        std::ofstream out(conf);
        out << "pool:\n  listen: 127.0.0.1:" << port_
            << "\n  hash: md5\n  distribution: ketama\n  auto_eject_hosts: false\n"
               "  timeout: 1000\n  servers:\n";
        for (const auto& s : servers) out << "   - " << s << ":1\n";
        if (!out) throw std::runtime_error("cannot write " + conf);
    }
    std::vector<std::string> argv{"nutcracker", "-c", conf, "-s", std::to_string(free_port())};
    proc_ = std::make_unique<Process>(argv, dir + "/twemproxy.log");
    if (!accepts(port_, *proc_))
        throw std::runtime_error("nutcracker did not start: " + proc_->log_tail());
}

namespace {

// The shipped file with Docker's parts replaced (the certificate too), without its change of user
// (the balancer runs as the test's), and its connection limit lowered to what this host's file
// descriptor limit allows (HAProxy needs two per connection); throws when a part is not found, so
// that a change to the shipped file cannot silently leave the tests running another configuration,
// plain HTTP among them.
std::string loopback_haproxy_config(const std::string& shipped, int port, const std::string& pem,
                                    const std::vector<int>& ingress_ports) {
    std::ifstream in(shipped);
    if (!in) throw std::runtime_error("cannot read " + shipped);
    std::string out, line;
    bool in_resolvers = false, bind = false, servers = false;
    const std::string docker_dns = " resolvers docker init-addr none";
    rlimit files{};
    getrlimit(RLIMIT_NOFILE, &files);
    const auto max_connections = static_cast<long>(files.rlim_max / 2 - 100);
    while (std::getline(in, line)) {
        if (line.starts_with("resolvers docker")) {
            in_resolvers = true;
            continue;
        }
        if (in_resolvers) {
            if (!line.empty()) continue;
            in_resolvers = false;
        }
        if (line.starts_with("    user ") || line.starts_with("    group ")) continue;
        if (auto at = line.find("maxconn "); at != std::string::npos) {
            const long wanted = std::stol(line.substr(at + 8));
            line = line.substr(0, at + 8) + std::to_string(std::min(wanted, max_connections));
        } else if (line.find("bind :8443 ssl crt ") != std::string::npos) {
            line = "    bind 127.0.0.1:" + std::to_string(port) + " ssl crt " + pem;
            bind = true;
        } else if (auto at = line.find(docker_dns); at != std::string::npos) {
            line.erase(at, docker_dns.size());
        } else if (line.find("server-template") != std::string::npos) {
            line.clear();
            for (std::size_t i = 0; i < ingress_ports.size(); ++i) {
                line += "    server ingress" + std::to_string(i) +
                        " 127.0.0.1:" + std::to_string(ingress_ports[i]) + "\n";
            }
            servers = true;
        }
        out += line + "\n";
    }
    if (!bind || !servers)
        throw std::runtime_error(shipped +
                                 ": no `bind :8443 ssl crt` or `server-template` line to replace");
    return out;
}

}  // namespace

HaproxyServer::HaproxyServer(const std::string& dir, const std::string& shipped_config,
                             const std::vector<int>& ingress_ports)
    : port_(free_port()), stats_port_(free_port()), ca_file_(dir + "/edge.crt") {
    // A self-signed pair as scripts/compose-secrets makes one: the key and the certificate in the
    // file HAProxy reads, the certificate alone for the clients to verify it against.
    const std::string key = dir + "/edge.pem", conf = dir + "/haproxy.cfg";
    if (run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext",
             "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", ca_file_},
            dir + "/openssl.log") != 0) {
        throw std::runtime_error("openssl could not make the balancer's certificate: " +
                                 read_file(dir + "/openssl.log"));
    }
    {
        std::ofstream(key, std::ios::app) << read_file(ca_file_);
        std::ofstream out(conf);
        out << loopback_haproxy_config(shipped_config, port_, key, ingress_ports)
            << "\nfrontend stats\n    bind 127.0.0.1:" << stats_port_
            << "\n    stats enable\n    stats uri /stats\n";
        if (!out) throw std::runtime_error("cannot write " + conf);
    }
    // -db: in the foreground, so that it is this process's child and dies with it.
    std::vector<std::string> argv{"haproxy", "-db", "-f", conf};
    proc_ = std::make_unique<Process>(argv, dir + "/haproxy.log");
    if (!accepts(port_, *proc_))
        throw std::runtime_error("haproxy did not start: " + proc_->log_tail());
}

}  // namespace revalidator::testing
