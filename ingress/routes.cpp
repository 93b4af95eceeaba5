#include "routes.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "intake.hpp"
#include "runtime/clock.hpp"
#include "runtime/log.hpp"

namespace revalidator::ingress {

namespace {

class StatusCounters {
  public:
    explicit StatusCounters(metrics::Registry& r) {
        for (int s : {200, 202, 304, 400, 401, 404, 405, 415, 422, 503}) {
            by_status_.emplace(
                s, &r.counter("revalidator_ingress_requests_total", "HTTP responses by status",
                              "status=\"" + std::to_string(s) + "\""));
        }
        other_ = &r.counter("revalidator_ingress_requests_total", "HTTP responses by status",
                            "status=\"other\"");
    }
    void count(int status) {
        auto it = by_status_.find(status);
        (it == by_status_.end() ? other_ : it->second)->inc();
    }

  private:
    std::map<int, metrics::Counter*> by_status_;
    metrics::Counter* other_;
};

}  // namespace

void add_routes(http::Server& svr, RouteContext ctx) {
    auto statuses = std::make_shared<StatusCounters>(ctx.registry);
    auto& ack = ctx.registry.histogram("revalidator_ingress_ack_seconds",
                                       "Time from request parsed to 202 written into the response",
                                       metrics::latency_buckets());
    auto& full = ctx.registry.counter("revalidator_ingress_rejected_total",
                                      "Webhooks refused with 503", "reason=\"queue_full\"");
    auto& drain = ctx.registry.counter("revalidator_ingress_rejected_total",
                                       "Webhooks refused with 503", "reason=\"draining\"");

    svr.set_logger([statuses](const http::Request&, const http::Response& res) {
        statuses->count(res.status());
    });
    http::route_errors(svr,
                       {{"/revalidate", {"POST"}},
                        {"/healthz", {"GET"}},
                        {"/readyz", {"GET"}},
                        {"/metrics", {"GET"}}},
                       ctx.read_patterns);
    http::add_probes(svr, ctx.registry, ctx.readiness);

    // Every 202 carries the same body: one copy, shared by all answers.
    auto received = std::make_shared<const std::string>(R"({"received":true})");
    svr.post("/revalidate", [ctx, received, &ack, &full, &drain](const http::Request& req,
                                                                 http::Response& res) {
        const auto start = std::chrono::steady_clock::now();
        const auto answer = intake({req.header("Authorization"),
                                    req.header("Content-Type"),
                                    {req.header("webhook-id"), req.header("webhook-timestamp"),
                                     req.header("webhook-signature")},
                                    req.body(),
                                    unix_micros()},
                                   ctx.auth, ctx.destinations);
        if (answer.status == 202) {
            res.set_status(202);
            res.set_content(received, "application/json");
            ack.observe(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
            return;
        }
        if (answer.status == 503) res.set_header("Retry-After", "1");
        if (answer.code == "draining") drain.inc();
        if (answer.code == "queue_full") {
            full.inc();
            log::warn("queue full, webhook refused", {{"detail", answer.detail}});
        }
        http::reject(res, answer.status, answer.code, answer.detail);
    });
}

}  // namespace revalidator::ingress
