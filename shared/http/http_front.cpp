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
    // Looked up with the request's own views: no string is made per request.
    using Methods = std::set<std::string, std::less<>>;
    std::map<std::string, Methods, std::less<>> by_path;
    for (auto& [path, methods] : routes)
        by_path.emplace(path, Methods(methods.begin(), methods.end()));
    std::vector<std::pair<std::regex, Methods>> compiled;
    for (const auto& [pattern, methods] : patterns)
        compiled.emplace_back(std::regex(pattern), Methods(methods.begin(), methods.end()));
    svr.set_pre_routing([by_path = std::move(by_path), compiled = std::move(compiled)](
                            const Request& req, Response& res) {
        const std::string_view path = req.path();
        const Methods* methods = nullptr;
        if (auto it = by_path.find(path); it != by_path.end()) {
            methods = &it->second;
        } else {
            for (const auto& [re, allowed] : compiled) {
                if (std::regex_match(path.begin(), path.end(), re)) {
                    methods = &allowed;
                    break;
                }
            }
        }
        // A GET route answers HEAD too (http_server.hpp).
        const std::string_view method = req.method() == "HEAD" ? "GET" : req.method();
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
