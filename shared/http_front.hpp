// The HTTP front every revalidator process shares: a cpp-httplib server tuned for many short
// requests, JSON error bodies for every rejection, and the probes /healthz, /readyz, /metrics.
//
// Why tuning: Debian's cpp-httplib is a compiled split build whose defaults hurt a webhook
// receiver: a listen backlog of 5, 8 worker threads with one thread per keep-alive connection,
// and keep-alive ending after 5 requests. Server fixes what the API allows.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "metrics.hpp"

namespace revalidator::http {

struct Tuning {
    int threads = 256;  // connections served at once; each keep-alive connection holds a thread
    std::size_t max_body_bytes = 1 << 20;
    int read_timeout_s = 5;  // a client that stalls mid-request is dropped after this
    int write_timeout_s = 5;
    int keep_alive_s = 5;  // idle keep-alive connections are closed after this
    int backlog = 4096;
};

class Server : public httplib::Server {
  public:
    explicit Server(const Tuning& t);
    // Binds host:port (port 0 picks a free one), widens the listen backlog, and returns the bound
    // port, or -1 when binding failed. Then call listen_after_bind() on the serving thread.
    int bind(const std::string& host, int port);

  private:
    // The listening socket, captured while httplib creates it, so that listen() can be called
    // again with a wider backlog (Linux applies it to a socket that is already listening).
    std::shared_ptr<std::atomic<int>> listen_fd_ = std::make_shared<std::atomic<int>>(-1);
    int backlog_;
};

// Sets a JSON rejection: {"error": code, "detail": detail}.
void reject(httplib::Response& res, int status, const std::string& code, const std::string& detail);

// 405 (with Allow) for a known path with the wrong method, and JSON bodies for every error that
// httplib produces itself (404, 413, 414, 400 on unparsable requests).
// `routes` maps each path to the methods it accepts.
void route_errors(httplib::Server& svr, std::map<std::string, std::set<std::string>> routes);

struct Readiness {
    bool ready = false;
    nlohmann::json detail = nlohmann::json::object();
};

void add_probes(httplib::Server& svr, const metrics::Registry& registry,
                std::function<Readiness()> readiness);

}  // namespace revalidator::http
