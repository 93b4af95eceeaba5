// Real servers for integration tests: Postgres and Memcached from the Debian packages, started on
// free loopback ports in a temporary folder, and the project's own binaries. A server that cannot
// be started throws: a test that needs it fails rather than skipping.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "process.hpp"

namespace revalidator::testing {

int free_port();

// Polls `condition` until it holds or `timeout` passes; returns whether it held.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

class TempDir {
  public:
    TempDir();
    ~TempDir();
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

// Runs `postgres` itself as a child of the test (not daemonised by pg_ctl), so that it dies with
// the test however the test ends.
class PostgresServer {
  public:
    explicit PostgresServer(const std::string& dir);
    ~PostgresServer();
    std::string url() const;
    int port() const { return port_; }
    void start();
    void stop();  // fast shutdown; start() brings it back with the same data
    // SIGSTOP to the server and every backend: a frozen peer, whose kernel still accepts
    // connections and acknowledges bytes, but which never answers. thaw() sends SIGCONT.
    void freeze();
    void thaw();

  private:
    std::string dir_, data_;
    int port_;
    std::unique_ptr<Process> proc_;
    std::vector<pid_t> frozen_;
};

class MemcachedServer {
  public:
    // `name`: of its log file in `dir`, so that several servers can share one folder.
    explicit MemcachedServer(const std::string& dir, const std::string& name = "memcached");
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    int port() const { return port_; }
    void start();
    void stop();
    Process& process() { return *proc_; }  // to freeze it (Frozen)

  private:
    std::string dir_, name_;
    int port_;
    std::unique_ptr<Process> proc_;
};

// twemproxy (Debian's nutcracker) in front of Memcached servers, configured as docs/cache-layout.md
// tells readers to: ketama distribution, md5 hash, every server weight 1, no ejection. It is how
// the tests prove that the worker's key distribution is the one other clients compute.
class TwemproxyServer {
  public:
    TwemproxyServer(const std::string& dir, const std::vector<std::string>& servers);
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    int port() const { return port_; }

  private:
    int port_;
    std::unique_ptr<Process> proc_;
};

// HAProxy (Debian's haproxy) in front of the ingresses, run from the deployment's own
// docker/haproxy.cfg with only what Docker supplies replaced: the listening address, the TLS
// certificate (a self-signed one, made here), and the replicas Docker's DNS would resolve, named
// here by their loopback ports. TLS, route filtering, health checks, retries and timeouts are the
// shipped ones, so what a test measures through it is what a deployment gets. One thing is added:
// its statistics page (plain HTTP, loopback), to count the retries it made.
class HaproxyServer {
  public:
    HaproxyServer(const std::string& dir, const std::string& shipped_config,
                  const std::vector<int>& ingress_ports);
    int port() const { return port_; }  // HTTPS
    // The certificate to verify the balancer against (for localhost and 127.0.0.1).
    const std::string& ca_file() const { return ca_file_; }
    int stats_port() const { return stats_port_; }  // GET /stats;csv

  private:
    int port_, stats_port_;
    std::string ca_file_;
    std::unique_ptr<Process> proc_;
};

}  // namespace revalidator::testing
