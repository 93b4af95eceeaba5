// The ingress's HTTP routes: POST /revalidate (authenticate, validate, enqueue, then answer 202),
// and the probes. The answer comes only after the event is in the queue; it never waits for the
// worker, because the sender gives up after about a second and never retries.
#pragma once

#include <functional>

#include "auth.hpp"
#include "event_queue.hpp"
#include "http_front.hpp"
#include "metrics.hpp"
#include "webhook.hpp"

namespace revalidator::ingress {

struct RouteContext {
    const Authenticator& auth;
    const Table& table;
    EventQueue& queue;
    metrics::Registry& registry;
    std::function<http::Readiness()> readiness;
};

void add_routes(http::Server& svr, RouteContext ctx);

}  // namespace revalidator::ingress
