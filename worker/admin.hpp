// The worker's admin endpoints (docs/configuration.md, "revalidator-worker" and "Probes"): GET
// /healthz, GET /readyz (ready while every served table is active and its Postgres and Memcached
// answered; the detail has role, postgres, memcached and pending_keys, and canary when one runs,
// per collection when the process serves several; a silent canary is reported, never unready), GET
// /metrics, and POST /resync (every served table) or POST /resync/{collection} (that one), which
// schedule a full resync for a caller with the bearer secret: 403 when no secret is configured, 401
// on a wrong one, 404 for a collection not served here, else 202.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "batch_loop.hpp"
#include "canary.hpp"
#include "http/bearer.hpp"
#include "http/http_front.hpp"
#include "runtime/metrics.hpp"

namespace revalidator::worker {

// One served table.
struct AdminTable {
    std::string collection;  // its name; "" in a worker configured by the table flags
    BatchLoop& loop;
    std::function<bool()> active;    // whether this worker holds its lease (Role::active)
    const Canary* canary = nullptr;  // none: no canary runs
};

struct AdminContext {
    const metrics::Registry& registry;
    const BearerAuth& auth;  // empty: POST /resync is off
    std::vector<AdminTable> tables;
};

// What /readyz says of one table: ready while it is active and its Postgres and Memcached
// answered; the detail names its role and each of them.
http::Readiness table_readiness(const AdminTable& t);

// One event loop and at most 256 connections: the admin port serves probes and operators.
http::Tuning admin_tuning();

void add_admin_routes(http::Server& svr, AdminContext ctx);

}  // namespace revalidator::worker
