#include "admin.hpp"

namespace revalidator::worker {

http::Tuning admin_tuning() {
    http::Tuning t;
    t.loops = 1;
    t.max_connections = 256;
    return t;
}

http::Readiness table_readiness(const AdminTable& t) {
    const bool is_active = t.active();
    http::Readiness r{is_active && t.loop.source_ok() && t.loop.cache_ok(),
                      {{"role", is_active ? "active" : "standby"},
                       {"postgres", t.loop.source_ok()},
                       {"memcached", t.loop.cache_ok()},
                       {"pending_keys", t.loop.pending_keys()}}};
    // A silent feed alerts (docs/operations.md, "The canary") but takes no worker out: the repair
    // pass still heals the table, and a standby would hear no more.
    if (t.canary) r.detail["canary"] = t.canary->detail();
    return r;
}

void add_admin_routes(http::Server& svr, AdminContext ctx) {
    http::route_errors(
        svr,
        {{"/healthz", {"GET"}}, {"/readyz", {"GET"}}, {"/metrics", {"GET"}}, {"/resync", {"POST"}}},
        {{"/resync/[^/]*", {"POST"}}});
    const auto tables = std::make_shared<std::vector<AdminTable>>(std::move(ctx.tables));
    http::add_probes(svr, ctx.registry, [tables] {
        if (tables->size() == 1) return table_readiness(tables->front());
        http::Readiness all{true, {{"collections", nlohmann::json::object()}}};
        for (const auto& t : *tables) {
            auto one = table_readiness(t);
            all.ready = all.ready && one.ready;
            all.detail["collections"][t.collection] = std::move(one.detail);
        }
        return all;
    });
    const auto resync = [&auth = ctx.auth, tables](const http::Request& req, http::Response& res) {
        if (auth.empty()) {
            return http::reject(res, 403, "forbidden",
                                "POST /resync is off: no --admin-secret configured");
        }
        if (auto denied = auth.check(req.header("Authorization"))) {
            return http::reject(res, 401, "unauthorized", *denied);
        }
        const std::string_view wanted = req.match(1);
        nlohmann::json scheduled = nlohmann::json::array();
        for (const auto& t : *tables) {
            if (!wanted.empty() && t.collection != wanted) continue;
            t.loop.request_resync("admin request");
            if (!t.collection.empty()) scheduled.push_back(t.collection);
        }
        if (!wanted.empty() && scheduled.empty()) {
            std::string served;
            for (const auto& t : *tables) served += (served.empty() ? "" : ", ") + t.collection;
            return http::reject(
                res, 404, "not_found",
                "no collection \"" + std::string(wanted) + "\" is served here; served: " + served);
        }
        nlohmann::json body = {{"resync", "scheduled"}};
        if (!scheduled.empty()) body["collections"] = std::move(scheduled);
        res.set_status(202);
        res.set_content(body.dump(), "application/json");
    };
    svr.post("/resync", resync);
    svr.post("/resync/([A-Za-z0-9_-]{1,64})", resync);
}

}  // namespace revalidator::worker
