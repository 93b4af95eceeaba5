// revalidator-worker: consumes events from every ingress, coalesces them, reads the truth from
// Postgres and writes Memcached. Run one active worker per table (see docs/operations.md).
#include <atomic>
#include <iostream>
#include <optional>
#include <thread>

#include "applier.hpp"
#include "bearer.hpp"
#include "cache_key.hpp"
#include "consumer.hpp"
#include "curve_keys.hpp"
#include "http_front.hpp"
#include "lease.hpp"
#include "log.hpp"
#include "loop.hpp"
#include "mc_sink.hpp"
#include "pg_source.hpp"
#include "shutdown.hpp"
#include "worker_config.hpp"

using namespace revalidator;

int main(int argc, char** argv) {
    worker::Config cfg;
    bool generate_keypair = false;
    config::Parser parser("revalidator-worker: keeps Memcached equal to Postgres for one table");
    worker::declare(parser, cfg);
    parser.action("--generate-curve-keypair", generate_keypair,
                  "print a new CURVE key pair as public=<Z85> and secret=<Z85> lines, and exit");
    if (auto exit = parser.parse(argc, argv, [&] { return worker::validate(cfg); })) return *exit;
    if (generate_keypair) {
        auto pair = worker::generate_curve_keypair();
        if (pair.public_key.empty()) {
            std::cerr << "cannot generate a CURVE key pair: this libzmq was built without CURVE "
                         "support\n";
            return 1;
        }
        std::cout << "public=" << pair.public_key << "\nsecret=" << pair.secret_key << "\n";
        return 0;
    }
    const auto& curve_secret = cfg.curve_secret_key;
    const bool curve_on = !curve_secret.value.empty();
    if (curve_on && worker::curve_public_key(curve_secret.value).empty()) {
        std::cerr << "revalidator-worker: bad configuration: --curve-secret-key: this libzmq was "
                     "built without CURVE support\n";
        return config::kUsage;
    }
    using std::chrono::milliseconds;
    const worker::PgConfig pg{.url = cfg.postgres_url,
                              .schema = cfg.schema,
                              .table = cfg.table,
                              .primary_key = cfg.primary_key,
                              .order_by = cfg.order_by,
                              .timeouts = {.network = milliseconds(cfg.pg_timeout_ms),
                                           .statement = milliseconds(cfg.statement_timeout_ms)}};
    const worker::ApplierConfig ap{
        .prefix = cfg.prefix, .primary_key = cfg.primary_key, .max_item_bytes = cfg.max_item_bytes};
    const worker::LoopConfig lp{.schema = cfg.schema,
                                .table = cfg.table,
                                .max_pending = cfg.max_pending,
                                .resync_interval = std::chrono::seconds(cfg.resync_interval_s),
                                .retry_max = milliseconds(cfg.retry_max_ms)};
    const worker::McTimeouts cache_timeouts{.connect = milliseconds(cfg.cache_timeout_ms / 2),
                                            .io = milliseconds(cfg.cache_timeout_ms)};
    // A write may start only if it ends, at its slowest, with a tenth of the lease to spare.
    const auto write_window = cache_timeouts.bound() + milliseconds(cfg.lease_ttl_ms / 10);

    log::init("worker", cfg.log_level);
    shutdown::install();
    metrics::Registry registry;
    std::atomic<bool> repair_asked{false};
    std::unique_ptr<worker::Lease> lease;
    std::unique_ptr<worker::PgSource> source;
    std::unique_ptr<worker::McSink> sink;
    try {
        lease = std::make_unique<worker::Lease>(
            worker::LeaseOptions{.url = cfg.postgres_url,
                                 .name = "revalidator:" + pg.schema + "." + pg.table,
                                 .ttl = milliseconds(cfg.lease_ttl_ms),
                                 .network = milliseconds(cfg.pg_timeout_ms),
                                 .on_repair_request = [&] { repair_asked = true; }});
        source = std::make_unique<worker::PgSource>(pg);
        sink = std::make_unique<worker::McSink>(
            cfg.memcached, cfg.cache_connections, cache_timeouts,
            worker::WriteGate{.open = [&] { return lease->fresh_for(write_window); },
                              .closed_during_write = [&] { lease->request_repair(); }});
    } catch (const std::exception& e) {
        log::error("cannot start", {{"error", e.what()}});
        return 1;
    }
    worker::Applier applier(*source, *sink, ap, registry);
    worker::Loop loop(applier, lp, registry);

    BearerAuth admin_auth({cfg.admin_secret.value});
    std::atomic<bool> active{false};

    http::Tuning admin_tuning;
    admin_tuning.loops = 1;
    admin_tuning.max_connections = 256;
    http::Server admin(admin_tuning, registry);
    http::route_errors(admin, {{"/healthz", {"GET"}},
                               {"/readyz", {"GET"}},
                               {"/metrics", {"GET"}},
                               {"/resync", {"POST"}}});
    registry.gauge_fn("revalidator_worker_active",
                      "1 while this worker holds the table's lease, 0 as standby",
                      [&] { return active ? 1.0 : 0.0; });
    http::add_probes(admin, registry, [&] {
        bool ready = active && loop.source_ok() && loop.cache_ok();
        return http::Readiness{ready,
                               {{"role", active ? "active" : "standby"},
                                {"postgres", loop.source_ok()},
                                {"memcached", loop.cache_ok()},
                                {"pending_keys", loop.pending_keys()}}};
    });
    admin.Post("/resync", [&](const httplib::Request& req, httplib::Response& res) {
        if (admin_auth.empty()) {
            return http::reject(res, 403, "forbidden",
                                "POST /resync is off: no --admin-secret configured");
        }
        if (auto denied = admin_auth.check(req.get_header_value("Authorization"))) {
            return http::reject(res, 401, "unauthorized", *denied);
        }
        loop.request_resync("admin request");
        res.status = 202;
        res.set_content(R"({"resync":"scheduled"})", "application/json");
    });
    int bound = admin.bind(cfg.admin_host, cfg.admin_port);
    if (bound < 0) {
        log::error("cannot listen", {{"host", cfg.admin_host}, {"port", cfg.admin_port}});
        return 1;
    }
    std::thread admin_thread([&] { admin.serve(); });
    shutdown::on_request([&] { admin.stop(); });
    log::info("worker started",
              {{"bind", cfg.bind},
               {"curve", curve_on},
               {"curve_public_key", curve_on ? worker::curve_public_key(curve_secret.value) : ""},
               {"admin_port", bound},
               {"table", pg.schema + "." + pg.table},
               {"prefix", ap.prefix},
               {"memcached", cfg.memcached}});

    int exit_code = 0;
    while (!shutdown::requested()) {
        log::info("standby: waiting for the lease", {{"table", pg.schema + "." + pg.table}});
        while (!lease->try_acquire()) {
            if (shutdown::wait_for(milliseconds(500))) break;
        }
        if (shutdown::requested() || shutdown::wait_for(milliseconds(cfg.takeover_delay_ms))) break;
        std::optional<worker::Consumer> consumer;
        try {
            consumer.emplace(cfg.bind, cfg.receive_hwm, curve_secret.value);
        } catch (const std::exception& e) {
            log::error("cannot bind", {{"bind", cfg.bind}, {"error", e.what()}});
            exit_code = 1;
            break;
        }
        active = true;
        log::info("active: lease taken, consuming", {{"bind", cfg.bind}});
        // Everything before this moment is covered by one full read.
        loop.request_resync("became active");
        auto wait = milliseconds(0);
        // A lost lease also closes the write gate at once (McSink throws Fenced); leaving here
        // unbinds the PULL socket, so events flow to the new active worker.
        while (!shutdown::requested() && lease->held()) {
            loop.ingest(consumer->receive(cfg.max_batch, std::min(wait, milliseconds(200))));
            if (repair_asked.exchange(false)) loop.request_resync("repair asked by another worker");
            wait = loop.step();
        }
        active = false;
    }
    // The batch in hand was finished by step(); events not yet received are covered by the
    // next active worker's resync.
    lease->release();  // at once, so a standby need not wait for the session to time out
    admin.stop();
    admin_thread.join();
    log::info("worker stopped");
    return exit_code;
}
