// The worker's admin endpoints (docs/configuration.md, "revalidator-worker" and "Probes"): GET
// /healthz, GET /readyz (ready while active and Postgres and Memcached answered; the detail has
// role, postgres, memcached and pending_keys), GET /metrics, and POST /resync, which schedules a
// full resync for a caller with the bearer secret: 403 when no secret is configured, 401 on a wrong
// one, else 202.
#pragma once

#include <functional>

#include "bearer.hpp"
#include "http_front.hpp"
#include "loop.hpp"
#include "metrics.hpp"

namespace revalidator::worker {

struct AdminContext {
    const metrics::Registry& registry;
    const BearerAuth& auth;  // empty: POST /resync is off
    Loop& loop;
    std::function<bool()> active;  // whether this worker holds the lease (Role::active)
};

// One event loop and at most 256 connections: the admin port serves probes and operators.
http::Tuning admin_tuning();

void add_admin_routes(http::Server& svr, AdminContext ctx);

}  // namespace revalidator::worker
