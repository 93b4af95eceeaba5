// What every revalidator process serves the same way: JSON bodies for every rejection (405 with
// Allow, and the errors the router produces itself), and the probes /healthz, /readyz, /metrics.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "http_server.hpp"
#include "runtime/metrics.hpp"

namespace revalidator::http {

// Sets a JSON rejection: {"error": code, "detail": detail}.
void reject(Response& res, int status, const std::string& code, const std::string& detail);

// 405 (with Allow) for a known path with the wrong method, and JSON bodies for every error that
// the router produces itself (404).
// `routes` maps each path to the methods it accepts; `patterns` does the same for routes named by
// a regular expression (a path with an id in it), looked at only when no exact path matched.
void route_errors(Server& svr, std::map<std::string, std::set<std::string>> routes,
                  const std::map<std::string, std::set<std::string>>& patterns = {});

struct Readiness {
    bool ready = false;
    nlohmann::json detail = nlohmann::json::object();
};

void add_probes(Server& svr, const metrics::Registry& registry,
                std::function<Readiness()> readiness);

}  // namespace revalidator::http
