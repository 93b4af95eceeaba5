// The ingress's HTTP routes: POST /revalidate (authenticate, validate, enqueue, then answer 202),
// the probes, and the errors of every route (the read routes are read_routes.hpp's). The answer
// comes only after the event is in the queue; it never waits for the worker, because the sender
// gives up after about a second and never retries.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "auth.hpp"
#include "http/http_front.hpp"
#include "intake.hpp"
#include "runtime/metrics.hpp"

namespace revalidator::ingress {

struct RouteContext {
    const Authenticator& auth;
    Destinations destinations;
    metrics::Registry& registry;
    std::function<http::Readiness()> readiness;
    // The read routes' paths and methods (read_route_patterns), when they are served.
    std::map<std::string, std::set<std::string>> read_patterns;
    // The collection of each of destinations.tables, at the same index (the label of its series).
    std::vector<std::string> collections;
    // What the read routes serve, to count requests by route: the paths of lists and views, and
    // the prefixes under which rows are read ({prefix}/{id}).
    std::set<std::string, std::less<>> list_paths;
    std::set<std::string, std::less<>> row_prefixes;
};

void add_routes(http::Server& svr, RouteContext ctx);

}  // namespace revalidator::ingress
