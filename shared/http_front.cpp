#include "http_front.hpp"

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
        default:
            return status >= 500 ? "internal_error" : "bad_request";
    }
}

std::string detail_for(int status, const httplib::Request& req) {
    switch (status) {
        case 404:
            return "no route for " + req.method + " " + req.path;
        case 400:
            // httplib answers 400 itself only when it cannot parse the request line.
            return "the request line could not be parsed (expected \"METHOD /path HTTP/1.1\")";
        default:
            return "the request could not be processed (HTTP " + std::to_string(status) + ")";
    }
}

}  // namespace

void reject(httplib::Response& res, int status, const std::string& code,
            const std::string& detail) {
    res.status = status;
    res.set_content(error_body(code, detail), "application/json");
}

void route_errors(Server& svr, std::map<std::string, std::set<std::string>> routes) {
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

void add_probes(Server& svr, const metrics::Registry& registry,
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
