#include "service.hpp"

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "event_queue.hpp"
#include "http/http_front.hpp"
#include "intake.hpp"
#include "publisher.hpp"
#include "reads/mc_reader.hpp"
#include "reads/pg_reader.hpp"
#include "reads/read_routes.hpp"
#include "reads/reads.hpp"
#include "routes.hpp"
#include "runtime/clock.hpp"
#include "runtime/log.hpp"
#include "runtime/shutdown.hpp"

namespace revalidator::ingress {

int run(const Config& cfg) {
    log::init("ingress", cfg.log_level);
    shutdown::install();
    metrics::Registry registry;
    const std::uint64_t epoch = unix_micros();
    const bool bearer = !cfg.secret.value.empty() || !cfg.secret_previous.value.empty();
    const bool signatures = !cfg.signing.keys.empty();
    Authenticator auth({cfg.secret.value, cfg.secret_previous.value}, cfg.insecure_no_auth,
                       cfg.signing);
    std::atomic<bool> draining{false};
    http::Server svr(cfg.http, registry);

    // The cache the read routes read, when it is named; one for every collection.
    std::unique_ptr<McReader> cache;
    std::unique_ptr<BearerAuth> read_auth;
    if (!cfg.memcached.empty()) {
        cache = std::make_unique<McReader>(cfg.memcached,
                                           std::chrono::milliseconds(cfg.read_timeout_ms));
        if (!cfg.read_secret.value.empty()) {
            read_auth = std::make_unique<BearerAuth>(std::vector{cfg.read_secret.value});
        }
    }
    // One lane per collection: its own event stream (a queue and a publisher to its workers
    // alone, so that each table's workers see a contiguous sequence) and its read routes.
    struct Lane {
        Collection collection;
        std::unique_ptr<EventQueue> queue;
        std::unique_ptr<Publisher> publisher;
        std::unique_ptr<PgReader> database;
        std::unique_ptr<Reads> reads;
        std::vector<std::unique_ptr<Reads>> views;  // each view's list, read as the list is
    };
    std::vector<Lane> lanes;
    Destinations destinations;
    std::vector<ReadRouteContext> read_routes;
    std::map<std::string, std::set<std::string>> read_patterns;
    std::vector<std::string> names;
    for (auto& collection : served(cfg)) {
        Lane& lane = lanes.emplace_back();
        lane.collection = std::move(collection);
        const Table& table = lane.collection.table;
        const std::string labels = metrics::label("collection", lane.collection.name);
        names.push_back(lane.collection.name);
        lane.queue = std::make_unique<EventQueue>(cfg.instance_id, epoch, cfg.queue_capacity);
        lane.publisher = std::make_unique<Publisher>(
            *lane.queue,
            PublisherConfig{.endpoints = lane.collection.workers,
                            .send_hwm = cfg.send_hwm,
                            .table = table,
                            .labels = labels,
                            .curve_server_key = cfg.curve_server_key,
                            .curve_public_key = cfg.curve_public_key,
                            .curve_secret_key = cfg.curve_secret_key.value},
            registry);
        destinations.tables.push_back(table);
        destinations.queues.push_back(lane.queue.get());
        if (!cache) continue;
        // A miss is answered from Postgres when a read URL is set, and asks the worker to fill
        // the row with the event an UPDATE webhook makes (docs/read-api.md, "What a miss means").
        auto fill = [&queue = *lane.queue, table](const std::string& id) {
            return queue.fill(table.schema, table.name, id, unix_micros()) ==
                   EventQueue::Push::Queued;
        };
        if (!cfg.read_postgres_url.empty()) {
            lane.database = std::make_unique<PgReader>(PgReaderSettings{
                .url = cfg.read_postgres_url,
                .table = table,
                .pool = static_cast<std::size_t>(cfg.read_postgres_pool),
                .timeout = std::chrono::milliseconds(cfg.read_postgres_timeout_ms)});
        }
        lane.reads = std::make_unique<Reads>(
            ReadSettings{.prefix = table.prefix,
                         .fill_wait = std::chrono::milliseconds(cfg.read_fill_wait_ms),
                         .labels = labels},
            *cache, lane.database.get(), fill, registry);
        read_routes.push_back({*lane.reads, table.prefix, cfg.read_cache_control, read_auth.get()});
        read_patterns.merge(read_route_patterns(table.prefix));
        for (const auto& view : lane.collection.views) {
            auto& reads = lane.views.emplace_back(std::make_unique<Reads>(
                ReadSettings{.prefix = view.key,
                             .fill_wait = std::chrono::milliseconds(cfg.read_fill_wait_ms),
                             .labels = labels + "," + metrics::label("view", view.name)},
                *cache, nullptr, [](const std::string&) { return false; }, registry));
            read_routes.push_back(
                {*reads, view.key, cfg.read_cache_control, read_auth.get(), false});
            read_patterns.merge(read_route_patterns(view.key, false));
        }
    }
    add_read_routes(svr, cfg.read_lanes, read_routes);
    // Ready unless draining. Workers being away is not a reason to leave the balancer: the
    // webhooks are acked and queued until one is back (a full queue answers 503 on its own), and
    // the reads need only Memcached. When every worker is away at once (Postgres down: no worker
    // holds a lease), taking every ingress out would stop the reads the cache exists to serve
    // (docs/deployment.md, "The load balancer"). worker_peers shows which table has none.
    auto readiness = [&] {
        auto peers = nlohmann::json::object();
        std::size_t depth = 0;
        for (const auto& lane : lanes) {
            peers[lane.collection.name] = lane.publisher->connected_peers();
            depth += lane.queue->depth();
        }
        return http::Readiness{
            !draining,
            {{"worker_peers", peers}, {"draining", draining.load()}, {"queue_depth", depth}}};
    };
    add_routes(svr, {auth, destinations, registry, readiness, read_patterns});

    int bound = svr.bind(cfg.host, cfg.port);
    if (bound < 0) {
        log::error("cannot listen", {{"host", cfg.host}, {"port", cfg.port}});
        return 1;
    }
    for (auto& lane : lanes) lane.publisher->start();
    // The drain (docs/operations.md): webhooks are refused from the first moment (503 draining,
    // each taking a number that the END will show missing); the connections already open are
    // answered until they close or half the bound has passed; then the publisher, which sent all
    // along, sends what is left and END within the rest.
    using Clock = std::chrono::steady_clock;
    const auto drain_bound = std::chrono::milliseconds(cfg.drain_timeout_ms);
    std::atomic<Clock::time_point> drain_deadline{Clock::time_point::max()};
    log::info("ingress listening", {{"host", cfg.host},
                                    {"port", bound},
                                    {"stream", cfg.instance_id},
                                    {"epoch", epoch},
                                    {"collections", names},
                                    {"curve", !cfg.curve_server_key.empty()},
                                    {"insecure", cfg.insecure_no_auth},
                                    {"bearer_auth", bearer},
                                    {"signature_auth", signatures},
                                    {"reads", !cfg.memcached.empty()},
                                    {"reads_from_postgres", !cfg.read_postgres_url.empty()},
                                    {"read_auth", !cfg.read_secret.value.empty()}});
    // Stop order: SIGTERM wakes `stopper`, which closes the queues and drains the server; serve()
    // returns once the open connections are answered; then the publishers drain. The stopper is
    // joined before anything it touches goes, so nothing runs after run() returns
    // (shared/shutdown.hpp).
    std::thread stopper([&] {
        shutdown::wait();
        const auto now = Clock::now();
        drain_deadline = now + drain_bound;
        draining = true;
        for (auto& lane : lanes) lane.queue->close();
        svr.drain(now + drain_bound / 2);
    });
    svr.serve();
    shutdown::request();  // serve() may have returned on its own: the stopper's wait ends too
    stopper.join();

    draining = true;
    for (auto& lane : lanes) lane.queue->close();
    // The lanes drain together: each publisher has its own thread, and all share the deadline.
    const auto deadline = drain_deadline.load();
    const auto end = deadline == Clock::time_point::max() ? Clock::now() + drain_bound : deadline;
    std::vector<std::thread> drains;
    for (auto& lane : lanes) {
        drains.emplace_back([&lane, end] {
            lane.publisher->drain(std::max(
                std::chrono::milliseconds(0),
                std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now())));
        });
    }
    for (auto& t : drains) t.join();
    log::info("ingress stopped", {{"stream", cfg.instance_id}, {"epoch", epoch}});
    return 0;
}

}  // namespace revalidator::ingress
