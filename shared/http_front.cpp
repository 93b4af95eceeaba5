#include "http_front.hpp"

#include <sys/socket.h>

namespace revalidator::http {

namespace {

std::string code_for(int status) {
    switch (status) {
        case 400:
            return "bad_request";
        case 404:
            return "not_found";
        case 405:
            return "method_not_allowed";
        case 413:
            return "payload_too_large";
        case 414:
            return "uri_too_long";
        case 415:
            return "unsupported_media_type";
        case 431:
            return "headers_too_large";
        default:
            return status >= 500 ? "internal_error" : "bad_request";
    }
}

std::string detail_for(int status, const httplib::Request& req) {
    switch (status) {
        case 404:
            return "no route for " + req.method + " " + req.path;
        case 413:
            return "request body is larger than the configured limit";
        case 400:
            // httplib answers 400 itself only when it cannot parse the request.
            return "the request line or headers could not be parsed (a header line is at most "
                   "8192 bytes)";
        case 414:
            return "request URI is too long";
        default:
            return "the request could not be processed (HTTP " + std::to_string(status) + ")";
    }
}

}  // namespace

Server::Server(const Tuning& t) : backlog_(t.backlog) {
    set_tcp_nodelay(true);
    set_socket_options([fd = listen_fd_](socket_t s) {
        int yes = 1;
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
        *fd = s;
    });
    set_keep_alive_max_count(1'000'000);
    set_keep_alive_timeout(t.keep_alive_s);
    set_read_timeout(t.read_timeout_s, 0);
    set_write_timeout(t.write_timeout_s, 0);
    set_payload_max_length(t.max_body_bytes);
    new_task_queue = [n = static_cast<size_t>(t.threads)] { return new httplib::ThreadPool(n); };
}

int Server::bind(const std::string& host, int port) {
    int bound = port == 0 ? bind_to_any_port(host) : (bind_to_port(host, port) ? port : -1);
    if (bound >= 0 && *listen_fd_ >= 0) ::listen(*listen_fd_, backlog_);
    return bound;
}

void reject(httplib::Response& res, int status, const std::string& code,
            const std::string& detail) {
    res.status = status;
    nlohmann::json body = {{"error", code}, {"detail", detail}};
    res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                    "application/json");
}

void route_errors(httplib::Server& svr, std::map<std::string, std::set<std::string>> routes) {
    svr.set_pre_routing_handler(
        [routes = std::move(routes)](const httplib::Request& req, httplib::Response& res) {
            auto it = routes.find(req.path);
            if (it == routes.end() || it->second.count(req.method)) {
                return httplib::Server::HandlerResponse::Unhandled;
            }
            std::string allow;
            for (const auto& m : it->second) allow += (allow.empty() ? "" : ", ") + m;
            res.set_header("Allow", allow);
            reject(res, 405, "method_not_allowed",
                   req.method + " is not allowed on " + req.path + " (allowed: " + allow + ")");
            return httplib::Server::HandlerResponse::Handled;
        });
    httplib::Server::HandlerWithResponse on_error = [](const httplib::Request& req,
                                                       httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        reject(res, res.status, code_for(res.status), detail_for(res.status, req));
        return httplib::Server::HandlerResponse::Handled;
    };
    svr.set_error_handler(on_error);
}

void add_probes(httplib::Server& svr, const metrics::Registry& registry,
                std::function<Readiness()> readiness) {
    svr.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(R"({"status":"ok"})", "application/json");
    });
    svr.Get("/readyz", [readiness](const httplib::Request&, httplib::Response& res) {
        Readiness r = readiness();
        nlohmann::json body = {{"ready", r.ready}, {"detail", r.detail}};
        res.status = r.ready ? 200 : 503;
        res.set_content(body.dump(), "application/json");
    });
    svr.Get("/metrics", [&registry](const httplib::Request&, httplib::Response& res) {
        res.set_content(registry.render(), "text/plain; version=0.0.4");
    });
}

}  // namespace revalidator::http
