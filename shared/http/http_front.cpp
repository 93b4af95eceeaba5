#include "http_front.hpp"

#include <regex>
#include <utility>
#include <vector>

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

std::string detail_for(int status, const Request& req) {
    switch (status) {
        case 404:
            return "no route for " + std::string(req.method()) + " " + std::string(req.path());
        default:
            return "the request could not be processed (HTTP " + std::to_string(status) + ")";
    }
}

}  // namespace

void reject(Response& res, int status, const std::string& code, const std::string& detail) {
    res.set_status(status);
    res.set_content(error_body(code, detail), "application/json");
}

void route_errors(Server& svr, std::map<std::string, std::set<std::string>> routes,
                  const std::map<std::string, std::set<std::string>>& patterns) {
    std::vector<std::pair<std::regex, std::set<std::string>>> compiled;
    for (const auto& [pattern, methods] : patterns)
        compiled.emplace_back(std::regex(pattern), methods);
    svr.set_pre_routing([routes = std::move(routes), compiled = std::move(compiled)](
                            const Request& req, Response& res) {
        const std::string path(req.path());
        const std::set<std::string>* methods = nullptr;
        if (auto it = routes.find(path); it != routes.end()) {
            methods = &it->second;
        } else {
            for (const auto& [re, allowed] : compiled) {
                if (std::regex_match(path, re)) {
                    methods = &allowed;
                    break;
                }
            }
        }
        // A GET route answers HEAD too (http_server.hpp).
        const std::string method(req.method() == "HEAD" ? "GET" : req.method());
        if (!methods || methods->count(method)) return false;
        std::string allow;
        for (const auto& m : *methods) {
            allow += (allow.empty() ? "" : ", ") + m;
            if (m == "GET") allow += ", HEAD";
        }
        res.set_header("Allow", allow);
        reject(res, 405, "method_not_allowed",
               std::string(req.method()) + " is not allowed on " + std::string(req.path()) +
                   " (allowed: " + allow + ")");
        return true;
    });
    svr.set_error_handler([](const Request& req, Response& res) {
        if (!res.body().empty()) return false;
        reject(res, res.status(), code_for(res.status()), detail_for(res.status(), req));
        return true;
    });
}

void add_probes(Server& svr, const metrics::Registry& registry,
                std::function<Readiness()> readiness) {
    svr.get("/healthz", [](const Request&, Response& res) {
        res.set_content(R"({"status":"ok"})", "application/json");
    });
    svr.get("/readyz", [readiness](const Request&, Response& res) {
        Readiness r = readiness();
        nlohmann::json body = {{"ready", r.ready}, {"detail", r.detail}};
        res.set_status(r.ready ? 200 : 503);
        res.set_content(body.dump(), "application/json");
    });
    svr.get("/metrics", [&registry](const Request&, Response& res) {
        res.set_content(registry.render(), "text/plain; version=0.0.4");
    });
}

}  // namespace revalidator::http
