#include "admin.hpp"

namespace revalidator::worker {

http::Tuning admin_tuning() {
    http::Tuning t;
    t.loops = 1;
    t.max_connections = 256;
    return t;
}

void add_admin_routes(http::Server& svr, AdminContext ctx) {
    http::route_errors(svr, {{"/healthz", {"GET"}},
                             {"/readyz", {"GET"}},
                             {"/metrics", {"GET"}},
                             {"/resync", {"POST"}}});
    http::add_probes(svr, ctx.registry, [&loop = ctx.loop, active = ctx.active] {
        const bool is_active = active();
        return http::Readiness{is_active && loop.source_ok() && loop.cache_ok(),
                               {{"role", is_active ? "active" : "standby"},
                                {"postgres", loop.source_ok()},
                                {"memcached", loop.cache_ok()},
                                {"pending_keys", loop.pending_keys()}}};
    });
    svr.post("/resync",
             [&auth = ctx.auth, &loop = ctx.loop](const http::Request& req, http::Response& res) {
                 if (auth.empty()) {
                     return http::reject(res, 403, "forbidden",
                                         "POST /resync is off: no --admin-secret configured");
                 }
                 if (auto denied = auth.check(req.header("Authorization"))) {
                     return http::reject(res, 401, "unauthorized", *denied);
                 }
                 loop.request_resync("admin request");
                 res.set_status(202);
                 res.set_content(R"({"resync":"scheduled"})", "application/json");
             });
}

}  // namespace revalidator::worker
