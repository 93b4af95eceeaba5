#include "routes.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "intake.hpp"
#include "runtime/clock.hpp"
#include "runtime/log.hpp"

namespace revalidator::ingress {

namespace {

// revalidator_ingress_requests_total{route,code}: every answer by the route it was for and its
// status number. Routes are a fixed set, and codes are status numbers, so the series stay few;
// those a route is expected to answer are there from the start, the others appear when first
// answered (a 206, a 405), each registered once.
class RequestCounts {
  public:
    RequestCounts(metrics::Registry& r, std::set<std::string, std::less<>> list_paths,
                  std::set<std::string, std::less<>> row_prefixes)
        : registry_(r), list_paths_(std::move(list_paths)), row_prefixes_(std::move(row_prefixes)) {
        for (auto& route : slots_) {
            for (auto& slot : route) slot = nullptr;
        }
        const std::map<Route, std::vector<int>> expected{
            {Route::Revalidate, {202, 400, 401, 415, 422, 503}},
            {Route::Row, {200, 304, 404, 503}},
            {Route::List, {200, 304, 404, 503}},
            {Route::Healthz, {200}},
            {Route::Readyz, {200, 503}},
            {Route::Metrics, {200}},
            {Route::Other, {404}}};
        for (const auto& [route, codes] : expected) {
            for (int code : codes) count_of(route, code);
        }
    }

    void count(const http::Request& req, int status) {
        if (status < kFirst || status > kLast) return;  // no server of ours answers so
        count_of(route_of(req.path()), status).inc();
    }

  private:
    enum class Route { Revalidate, Healthz, Readyz, Metrics, Row, List, Other, Count };
    static constexpr int kFirst = 100, kLast = 599;

    static const char* name(Route r) {
        switch (r) {
            case Route::Revalidate:
                return "revalidate";
            case Route::Healthz:
                return "healthz";
            case Route::Readyz:
                return "readyz";
            case Route::Metrics:
                return "metrics";
            case Route::Row:
                return "row";
            case Route::List:
                return "list";
            default:
                return "other";
        }
    }

    Route route_of(std::string_view path) const {
        if (path == "/revalidate") return Route::Revalidate;
        if (path == "/healthz") return Route::Healthz;
        if (path == "/readyz") return Route::Readyz;
        if (path == "/metrics") return Route::Metrics;
        if (list_paths_.count(path) > 0) return Route::List;
        // A row's id may hold slashes ({prefix}/(.+)): any served prefix before one of them.
        for (auto slash = path.find('/', 1); slash != std::string_view::npos;
             slash = path.find('/', slash + 1)) {
            if (row_prefixes_.count(path.substr(0, slash)) > 0) return Route::Row;
        }
        return Route::Other;
    }

    metrics::Counter& count_of(Route route, int status) {
        auto& slot =
            slots_[static_cast<std::size_t>(route)][static_cast<std::size_t>(status - kFirst)];
        if (auto* c = slot.load(std::memory_order_acquire)) return *c;
        std::lock_guard lock(mu_);
        if (auto* c = slot.load(std::memory_order_relaxed)) return *c;
        auto* c = &registry_.counter("revalidator_ingress_requests_total",
                                     "HTTP responses by route and status",
                                     metrics::label("route", name(route)) + "," +
                                         metrics::label("code", std::to_string(status)));
        slot.store(c, std::memory_order_release);
        return *c;
    }

    metrics::Registry& registry_;
    const std::set<std::string, std::less<>> list_paths_;
    const std::set<std::string, std::less<>> row_prefixes_;
    std::mutex mu_;  // registering a series not yet seen
    std::array<std::array<std::atomic<metrics::Counter*>, kLast - kFirst + 1>,
               static_cast<std::size_t>(Route::Count)>
        slots_;
};

// revalidator_ingress_rejected_total{collection,reason}: the webhooks a table's queue refused.
class Rejections {
  public:
    Rejections(metrics::Registry& r, const std::vector<std::string>& collections) {
        for (const auto& name : collections) {
            const std::string c = metrics::label("collection", name) + ",";
            full_.push_back(&r.counter("revalidator_ingress_rejected_total",
                                       "Webhooks refused with 503", c + "reason=\"queue_full\""));
            draining_.push_back(&r.counter("revalidator_ingress_rejected_total",
                                           "Webhooks refused with 503", c + "reason=\"draining\""));
        }
    }

    void count(const Answer& answer) {
        if (answer.table < 0 || static_cast<std::size_t>(answer.table) >= full_.size()) return;
        const auto i = static_cast<std::size_t>(answer.table);
        if (answer.code == "queue_full") full_[i]->inc();
        if (answer.code == "draining") draining_[i]->inc();
    }

  private:
    std::vector<metrics::Counter*> full_, draining_;
};

}  // namespace

void add_routes(http::Server& svr, RouteContext ctx) {
    auto requests = std::make_shared<RequestCounts>(ctx.registry, ctx.list_paths, ctx.row_prefixes);
    auto& ack = ctx.registry.histogram("revalidator_ingress_ack_seconds",
                                       "Time from request parsed to 202 written into the response",
                                       metrics::latency_buckets());
    auto rejections = std::make_shared<Rejections>(ctx.registry, ctx.collections);

    svr.set_logger([requests](const http::Request& req, const http::Response& res) {
        requests->count(req, res.status());
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
    svr.post("/revalidate", [ctx, received, &ack, rejections](const http::Request& req,
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
        rejections->count(answer);
        if (answer.code == "queue_full") {
            log::warn("queue full, webhook refused",
                      {{"collection", ctx.collections.at(static_cast<std::size_t>(answer.table))},
                       {"detail", answer.detail}});
        }
        http::reject(res, answer.status, answer.code, answer.detail);
    });
}

}  // namespace revalidator::ingress
