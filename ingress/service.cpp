#include "service.hpp"

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "collection_lane.hpp"
#include "config/canary.hpp"
#include "http/http_front.hpp"
#include "intake.hpp"
#include "reads/mc_reader.hpp"
#include "reads/read_routes.hpp"
#include "routes.hpp"
#include "runtime/clock.hpp"
#include "runtime/log.hpp"
#include "runtime/notify.hpp"
#include "runtime/process_metrics.hpp"
#include "runtime/shutdown.hpp"

namespace revalidator::ingress {

namespace {

using Clock = std::chrono::steady_clock;
using Lanes = std::vector<std::unique_ptr<CollectionLane>>;

// The webhook route to each lane's queue, every lane's read routes, and the probes.
void add_all_routes(http::Server& svr, const Config& cfg, const Authenticator& auth,
                    metrics::Registry& registry, const Lanes& lanes,
                    const std::atomic<bool>& draining) {
    Destinations destinations;
    std::vector<std::string> collections;
    std::vector<ReadRouteContext> read_routes;
    std::map<std::string, std::set<std::string>> read_patterns;
    std::set<std::string, std::less<>> list_paths, row_prefixes;
    for (const auto& lane : lanes) {
        destinations.tables.push_back(lane->table());
        destinations.queues.push_back(&lane->queue());
        destinations.canaries.push_back(lane->name());
        collections.push_back(lane->name());
        for (const auto& route : lane->read_routes()) {
            read_routes.push_back(route);
            list_paths.insert(route.prefix);
            if (route.rows) row_prefixes.insert(route.prefix);
        }
        read_patterns.insert(lane->read_patterns().begin(), lane->read_patterns().end());
    }
    // Every collection's canary beats arrive as webhooks of one more table (config/canary.hpp).
    destinations.tables.push_back(canary_table());
    add_read_routes(svr, cfg.read_lanes, read_routes);
    // Ready unless draining. Workers being away is not a reason to leave the balancer: the
    // webhooks are acked and queued until one is back (a full queue answers 503 on its own), and
    // the reads need only Memcached. When every worker is away at once (Postgres down: no worker
    // holds a lease), taking every ingress out would stop the reads the cache exists to serve
    // (docs/deployment.md, "The load balancer"). worker_peers shows which table has none.
    auto readiness = [&lanes, &draining] {
        auto peers = nlohmann::json::object();
        std::size_t depth = 0;
        for (const auto& lane : lanes) {
            peers[lane->name()] = lane->connected_peers();
            depth += lane->queue_depth();
        }
        return http::Readiness{
            !draining,
            {{"worker_peers", peers}, {"draining", draining.load()}, {"queue_depth", depth}}};
    };
    add_routes(svr, {auth, destinations, registry, readiness, read_patterns, collections,
                     list_paths, row_prefixes});
}

void log_listening(const Config& cfg, int port, std::uint64_t epoch, const Lanes& lanes) {
    std::vector<std::string> names;
    for (const auto& lane : lanes) names.push_back(lane->name());
    log::info("ingress listening",
              {{"host", cfg.host},
               {"port", port},
               {"stream", cfg.instance_id},
               {"epoch", epoch},
               {"collections", names},
               {"curve", !cfg.curve_server_key.empty()},
               {"insecure", cfg.insecure_no_auth},
               {"bearer_auth", !cfg.secret.value.empty() || !cfg.secret_previous.value.empty()},
               {"signature_auth", !cfg.signing.keys.empty()},
               {"reads", !cfg.memcached.empty()},
               {"reads_from_postgres", !cfg.read_postgres_url.empty()},
               {"read_auth", !cfg.read_secret.value.empty()}});
}

}  // namespace

int run(const Config& cfg) {
    log::init("ingress", cfg.log_level);
    shutdown::install();
    metrics::Registry registry;
    metrics::add_process_metrics(registry);
    const std::uint64_t epoch = unix_micros();
    Authenticator auth({cfg.secret.value, cfg.secret_previous.value}, cfg.insecure_no_auth,
                       cfg.signing);
    std::atomic<bool> draining{false};
    http::Server svr(cfg.http, registry);

    // The cache the read routes read, when it is named, and the list versions kept from it; one
    // of each for every collection.
    std::unique_ptr<McReader> cache;
    std::unique_ptr<ListStore> lists;
    std::optional<ReadCache> read_cache;
    std::unique_ptr<BearerAuth> read_auth;
    if (!cfg.memcached.empty()) {
        cache = std::make_unique<McReader>(cfg.memcached,
                                           std::chrono::milliseconds(cfg.read_timeout_ms));
        lists = std::make_unique<ListStore>(cfg.read_list_store_bytes, registry);
        read_cache.emplace(ReadCache{*cache, *lists});
        if (!cfg.read_secret.value.empty()) {
            read_auth = std::make_unique<BearerAuth>(std::vector{cfg.read_secret.value});
        }
    }
    Lanes lanes;
    for (auto& collection : served(cfg)) {
        lanes.push_back(std::make_unique<CollectionLane>(cfg, std::move(collection), epoch,
                                                         read_cache ? &*read_cache : nullptr,
                                                         read_auth.get(), registry));
    }
    add_all_routes(svr, cfg, auth, registry, lanes, draining);

    int bound = svr.bind(cfg.host, cfg.port);
    if (bound < 0) {
        log::error("cannot listen", {{"host", cfg.host}, {"port", cfg.port}});
        return 1;
    }
    for (auto& lane : lanes) lane->start();
    // The drain (docs/operations.md): webhooks are refused from the first moment (503 draining,
    // each taking a number that the END will show missing); the connections already open are
    // answered until they close or half the bound has passed; then the publisher, which sent all
    // along, sends what is left and END within the rest.
    const auto drain_bound = std::chrono::milliseconds(cfg.drain_timeout_ms);
    std::atomic<Clock::time_point> drain_deadline{Clock::time_point::max()};
    log_listening(cfg, bound, epoch, lanes);
    // Ready as soon as it listens, as /readyz says: an ingress acks and queues while its workers
    // are away (docs/deployment.md, "The load balancer").
    notify::send("READY=1");
    // Stop order: SIGTERM wakes `stopper`, which closes the queues and drains the server; serve()
    // returns once the open connections are answered; then the publishers drain. The stopper is
    // joined before anything it touches goes, so nothing runs after run() returns
    // (shared/runtime/shutdown.hpp).
    std::thread stopper([&] {
        shutdown::wait();
        const auto now = Clock::now();
        drain_deadline = now + drain_bound;
        draining = true;
        for (auto& lane : lanes) lane->close();
        svr.drain(now + drain_bound / 2);
    });
    svr.serve();
    shutdown::request();  // serve() may have returned on its own: the stopper's wait ends too
    stopper.join();

    draining = true;
    for (auto& lane : lanes) lane->close();
    // The lanes drain together: each publisher has its own thread, and all share the deadline.
    const auto deadline = drain_deadline.load();
    const auto end = deadline == Clock::time_point::max() ? Clock::now() + drain_bound : deadline;
    std::vector<std::thread> drains;
    for (auto& lane : lanes) drains.emplace_back([&lane, end] { lane->drain(end); });
    for (auto& t : drains) t.join();
    log::info("ingress stopped", {{"stream", cfg.instance_id}, {"epoch", epoch}});
    return 0;
}

}  // namespace revalidator::ingress
