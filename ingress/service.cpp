#include "service.hpp"

#include <atomic>
#include <iostream>

#include "clock.hpp"
#include "event_queue.hpp"
#include "http_front.hpp"
#include "log.hpp"
#include "mc_reader.hpp"
#include "pg_reader.hpp"
#include "publisher.hpp"
#include "read_routes.hpp"
#include "reads.hpp"
#include "routes.hpp"
#include "shutdown.hpp"
#include "zmq_curve.hpp"

namespace revalidator::ingress {

int run(const Config& cfg) {
    std::string curve_public;
    if (!cfg.curve_secret_key.value.empty()) {
        curve_public = curve::public_key(cfg.curve_secret_key.value);
        if (curve_public.empty()) {
            std::cerr << "revalidator-ingress: bad configuration: --curve-secret-key: this libzmq "
                         "was built without CURVE support\n";
            return config::kUsage;
        }
    }
    log::init("ingress", cfg.log_level);
    shutdown::install();
    metrics::Registry registry;
    const std::uint64_t epoch = unix_micros();
    EventQueue queue(cfg.instance_id, epoch, cfg.queue_capacity);
    Publisher publisher(queue,
                        {.endpoints = cfg.worker_endpoints,
                         .send_hwm = cfg.send_hwm,
                         .table = cfg.table,
                         .curve_server_key = cfg.curve_server_key,
                         .curve_public_key = curve_public,
                         .curve_secret_key = cfg.curve_secret_key.value},
                        registry);
    const bool bearer = !cfg.secret.value.empty() || !cfg.secret_previous.value.empty();
    const bool signatures = !cfg.signing.keys.empty();
    Authenticator auth({cfg.secret.value, cfg.secret_previous.value}, cfg.insecure_no_auth,
                       cfg.signing);
    std::atomic<bool> draining{false};

    http::Server svr(cfg.http, registry);
    auto readiness = [&] {
        int peers = publisher.connected_peers();
        return http::Readiness{peers > 0 && !draining,
                               {{"worker_peers", peers},
                                {"draining", draining.load()},
                                {"queue_depth", queue.depth()}}};
    };
    // The read routes, when the cache is named. A miss is answered from Postgres when a read URL
    // is set, and asks the worker to fill the row with the event an UPDATE webhook makes
    // (docs/read-api.md, "What a miss means").
    std::unique_ptr<McReader> cache;
    std::unique_ptr<PrefetchedCache> prefetched;
    std::unique_ptr<PgReader> database;
    std::unique_ptr<Reads> reads;
    std::unique_ptr<BearerAuth> read_auth;
    if (!cfg.memcached.empty()) {
        cache = std::make_unique<McReader>(cfg.memcached,
                                           std::chrono::milliseconds(cfg.read_timeout_ms));
        prefetched = std::make_unique<PrefetchedCache>(*cache);
        auto fill = [&queue, &table = cfg.table](const std::string& id) {
            return queue.push(Op::Update, table.schema, table.name, id, unix_micros()) ==
                   EventQueue::Push::Queued;
        };
        if (!cfg.read_postgres_url.empty()) {
            database = std::make_unique<PgReader>(PgReaderSettings{
                .url = cfg.read_postgres_url,
                .table = cfg.table,
                .pool = static_cast<std::size_t>(cfg.read_postgres_pool),
                .timeout = std::chrono::milliseconds(cfg.read_postgres_timeout_ms)});
        }
        reads = std::make_unique<Reads>(
            ReadSettings{.prefix = cfg.table.prefix,
                         .fill_wait = std::chrono::milliseconds(cfg.read_fill_wait_ms)},
            *prefetched, database.get(), fill, registry);
        if (!cfg.read_secret.value.empty()) {
            read_auth = std::make_unique<BearerAuth>(std::vector{cfg.read_secret.value});
        }
        add_read_routes(svr, {*reads, cfg.table.prefix, cfg.read_cache_control, read_auth.get(),
                              prefetched.get()});
    }
    add_routes(svr, {auth, cfg.table, queue, registry, readiness,
                     reads ? read_route_patterns(cfg.table.prefix)
                           : std::map<std::string, std::set<std::string>>{}});

    int bound = svr.bind(cfg.host, cfg.port);
    if (bound < 0) {
        log::error("cannot listen", {{"host", cfg.host}, {"port", cfg.port}});
        return 1;
    }
    publisher.start();
    // The drain (docs/operations.md): webhooks are refused from the first moment (503 draining,
    // each taking a number that the END will show missing); the connections already open are
    // answered until they close or half the bound has passed; then the publisher, which sent all
    // along, sends what is left and END within the rest.
    using Clock = std::chrono::steady_clock;
    const auto drain_bound = std::chrono::milliseconds(cfg.drain_timeout_ms);
    std::atomic<Clock::time_point> drain_deadline{Clock::time_point::max()};
    shutdown::on_request([&] {
        const auto now = Clock::now();
        drain_deadline = now + drain_bound;
        draining = true;
        queue.close();
        svr.drain(now + drain_bound / 2);
    });
    log::info("ingress listening", {{"host", cfg.host},
                                    {"port", bound},
                                    {"stream", cfg.instance_id},
                                    {"epoch", epoch},
                                    {"workers", cfg.worker_endpoints},
                                    {"curve", !cfg.curve_server_key.empty()},
                                    {"insecure", cfg.insecure_no_auth},
                                    {"bearer_auth", bearer},
                                    {"signature_auth", signatures},
                                    {"reads", !cfg.memcached.empty()},
                                    {"reads_from_postgres", database != nullptr},
                                    {"read_auth", !cfg.read_secret.value.empty()}});
    svr.serve();

    draining = true;
    queue.close();
    const auto deadline = drain_deadline.load();
    publisher.drain(deadline == Clock::time_point::max()
                        ? drain_bound
                        : std::max(std::chrono::milliseconds(0),
                                   std::chrono::duration_cast<std::chrono::milliseconds>(
                                       deadline - Clock::now())));
    log::info("ingress stopped", {{"stream", cfg.instance_id}, {"epoch", epoch}});
    return 0;
}

}  // namespace revalidator::ingress
