#include "routes.hpp"

#include <chrono>
#include <map>

#include "clock.hpp"
#include "log.hpp"

namespace revalidator::ingress {

namespace {

class StatusCounters {
  public:
    explicit StatusCounters(metrics::Registry& r) {
        for (int s : {200, 202, 400, 401, 404, 405, 415, 422, 503}) {
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
    ctx.registry.gauge_fn("revalidator_ingress_queue_depth", "Events waiting for the publisher",
                          [&q = ctx.queue] { return static_cast<double>(q.depth()); });

    svr.set_logger([statuses](const httplib::Request&, const httplib::Response& res) {
        statuses->count(res.status);
    });
    http::route_errors(svr, {{"/revalidate", {"POST"}},
                             {"/healthz", {"GET"}},
                             {"/readyz", {"GET"}},
                             {"/metrics", {"GET"}}});
    http::add_probes(svr, ctx.registry, ctx.readiness);

    svr.Post("/revalidate", [ctx, &ack, &full, &drain](const httplib::Request& req,
                                                       httplib::Response& res) {
        const std::string& body = req.body;
        auto start = std::chrono::steady_clock::now();
        std::uint64_t received = unix_micros();
        const std::string id = req.get_header_value("webhook-id");
        const std::string timestamp = req.get_header_value("webhook-timestamp");
        const std::string signature = req.get_header_value("webhook-signature");
        const std::string authorization = req.get_header_value("Authorization");
        auto admitted = ctx.auth.admit({authorization, {id, timestamp, signature}, body});
        if (!admitted) {
            if (admitted.error().status == 503) res.set_header("Retry-After", "1");
            return http::reject(res, admitted.error().status, admitted.error().code,
                                admitted.error().detail);
        }
        // A webhook-id is remembered only once its event is queued: a sender retrying a message
        // that was refused below (503, say) must not be taken for a replay.
        auto fail = [&](const Rejection& r) {
            ctx.auth.release(*admitted);
            http::reject(res, r.status, r.code, r.detail);
        };

        if (!is_json_content_type(req.get_header_value("Content-Type"))) {
            std::string got = req.get_header_value("Content-Type");
            return fail({415, "unsupported_media_type",
                         "Content-Type must be application/json, got \"" +
                             (got.empty() ? "(none)" : got) + "\""});
        }
        auto changes = parse_webhook(body, ctx.table);
        if (!changes) return fail(changes.error());
        // While draining, requests still being served are queued: the queue is flushed before
        // exit. Only a closed queue refuses, and the refusal takes a number like a full queue.
        for (const auto& c : *changes) {
            auto pushed = ctx.queue.push(c.op, ctx.table.schema, ctx.table.table, c.pk, received);
            if (pushed == EventQueue::Push::Queued) continue;
            res.set_header("Retry-After", "1");
            if (pushed == EventQueue::Push::Closed) {
                drain.inc();
                return fail(
                    {503, "draining", "this ingress is shutting down; send to another instance"});
            }
            full.inc();
            log::warn("queue full, webhook refused",
                      {{"stream", ctx.queue.stream()}, {"pk", c.pk}});
            return fail({503, "queue_full", "the event queue is full; retry later"});
        }
        res.status = 202;
        res.set_content(R"({"received":true})", "application/json");
        ack.observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    });
}

}  // namespace revalidator::ingress
