// revalidator-worker: consumes events from every ingress, coalesces them, reads the truth from
// Postgres and writes Memcached. Run one active worker per table (see docs/operations.md).
#include <atomic>
#include <iostream>
#include <optional>
#include <thread>

#include "applier.hpp"
#include "bearer.hpp"
#include "cache_key.hpp"
#include "cli.hpp"
#include "consumer.hpp"
#include "curve_keys.hpp"
#include "http_front.hpp"
#include "lease.hpp"
#include "log.hpp"
#include "loop.hpp"
#include "mc_sink.hpp"
#include "pg_source.hpp"
#include "shutdown.hpp"
#include "zmq_curve.hpp"

using namespace revalidator;

int main(int argc, char** argv) {
    CLI::App app{"revalidator-worker: keeps Memcached equal to Postgres for one table"};
    worker::PgConfig pg;
    std::string memcached = "127.0.0.1:11211";
    std::string endpoint = "tcp://127.0.0.1:5555";
    worker::ApplierConfig ap;
    worker::LoopConfig lp;
    std::string admin_host = "127.0.0.1";
    int admin_port = 8081;
    cli::Secret admin_secret;
    cli::Secret curve_secret;
    bool generate_keypair = false;
    std::size_t max_batch = 10'000;
    int receive_hwm = 100'000;
    int resync_interval_s = 300;
    int retry_max_ms = 5000;
    int takeover_delay_ms = 1000;
    int lease_ttl_ms = 5000;
    int pg_timeout_ms = 10'000;
    int statement_timeout_ms = 30'000;
    int cache_timeout_ms = 1000;
    int cache_connections = 4;
    std::string log_level = "info";

    cli::option(app, "--postgres-url", pg.url,
                "libpq connection string or URL of the source database");
    cli::option(app, "--memcached", memcached, "Memcached server(s), host:port[,host:port...]");
    cli::option(app, "--bind", endpoint,
                "ZeroMQ endpoint to bind the PULL socket on (ingresses connect here)");
    cli::secret_option(app, "--curve-secret-key", curve_secret,
                       "this worker's ZeroMQ CURVE secret key (Z85, 40 characters); when set, the "
                       "PULL socket only accepts encrypted CURVE connections from ingresses "
                       "given the matching public key (--generate-curve-keypair makes a pair)");
    app.add_flag("--generate-curve-keypair", generate_keypair,
                 "print a new CURVE key pair as public=<Z85> and secret=<Z85> lines, and exit");
    cli::option(app, "--schema", pg.schema, "schema of the watched table");
    cli::option(app, "--table", pg.table, "name of the watched table");
    cli::option(app, "--primary-key", pg.primary_key, "primary key column of the watched table");
    cli::option(app, "--order-by", pg.order_by,
                "list order, e.g. \"published_at DESC, id\" (default: the primary key)");
    cli::option(app, "--prefix", ap.prefix,
                "cache key prefix: the list at {prefix}, rows at {prefix}/{id}")
        ->check([](const std::string& p) { return check_prefix(p).value_or(""); });
    cli::option(app, "--max-item-bytes", ap.max_item_bytes,
                "largest value written as one item; longer lists are split (docs/cache-layout.md)")
        ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 30));
    cli::option(app, "--admin-host", admin_host,
                "address for /healthz, /readyz, /metrics, /resync");
    cli::option(app, "--admin-port", admin_port,
                "port for the admin endpoints (0 picks a free port)");
    cli::secret_option(app, "--admin-secret", admin_secret,
                       "bearer secret for POST /resync (the endpoint is off without one)");
    cli::option(app, "--cache-connections", cache_connections,
                "Memcached connections a batch's keys are written over at once")
        ->check(CLI::Range(1, 64));
    cli::option(app, "--max-batch", max_batch, "most events taken into one batch");
    cli::option(app, "--max-pending", lp.max_pending,
                "rows owed before falling back to a full resync");
    cli::option(app, "--receive-hwm", receive_hwm,
                "ZeroMQ high-water mark of the PULL socket, in events");
    cli::option(app, "--resync-interval-s", resync_interval_s,
                "full resync period, a safety net (0: off)");
    cli::option(app, "--retry-max-ms", retry_max_ms,
                "longest wait between retries after a failure");
    cli::option(app, "--takeover-delay-ms", takeover_delay_ms,
                "after taking the lease, wait this long before writing: a margin for a write the "
                "previous holder's network still delivers late (docs/operations.md)")
        ->check(CLI::Range(0, 600'000));
    cli::option(app, "--lease-ttl-ms", lease_ttl_ms,
                "Postgres ends the lease's session after this long without a renewal, so a "
                "frozen or cut-off active worker is replaced within about this time; the active "
                "worker writes only while its last renewal is this fresh (docs/operations.md)")
        ->check(CLI::Range(1000, 600'000));
    cli::option(app, "--pg-timeout-ms", pg_timeout_ms,
                "connect timeout, and the time after which a silent Postgres peer is declared "
                "dead (TCP keepalives and user timeout on both ends)")
        ->check(CLI::Range(1000, 600'000));
    cli::option(app, "--statement-timeout-ms", statement_timeout_ms,
                "Postgres statement_timeout for the worker's reads (0: none)")
        ->check(CLI::Range(0, 3'600'000));
    cli::option(app, "--cache-timeout-ms", cache_timeout_ms,
                "longest wait on a Memcached socket (connecting takes at most half of it); one "
                "operation takes at most 2.5 times this")
        ->check(CLI::Range(50, 60'000));
    cli::option(app, "--log-level", log_level, "debug, info, warn or error");
    try {
        app.parse(argc, argv);
        if (lease_ttl_ms < 5 * cache_timeout_ms) {
            throw CLI::ValidationError(
                "--lease-ttl-ms",
                "must be at least 5 x --cache-timeout-ms, so that a write can end while the lease "
                "is still fresh (" +
                    std::to_string(lease_ttl_ms) + " < 5 x " + std::to_string(cache_timeout_ms) +
                    ")");
        }
        cli::resolve_secret("--admin-secret", admin_secret);
        cli::resolve_secret("--curve-secret-key", curve_secret);
        if (!curve_secret.value.empty()) {
            if (auto bad = curve::key_error(curve_secret.value))
                throw CLI::ValidationError("--curve-secret-key", *bad);
            if (curve::public_key(curve_secret.value).empty())
                throw CLI::ValidationError("--curve-secret-key",
                                           "this libzmq was built without CURVE support");
        }
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (generate_keypair) {
        auto pair = curve::generate_keypair();
        if (pair.public_key.empty()) {
            std::cerr << "cannot generate a CURVE key pair: this libzmq was built without CURVE "
                         "support\n";
            return 1;
        }
        std::cout << "public=" << pair.public_key << "\nsecret=" << pair.secret_key << "\n";
        return 0;
    }
    const bool curve_on = !curve_secret.value.empty();
    lp.schema = pg.schema;
    lp.table = pg.table;
    lp.resync_interval = std::chrono::seconds(resync_interval_s);
    lp.retry_max = std::chrono::milliseconds(retry_max_ms);
    ap.primary_key = pg.primary_key;
    if (ap.max_item_bytes != 0) pg.list_segment_bytes = ap.max_item_bytes;
    using std::chrono::milliseconds;
    pg.timeouts = {.network = milliseconds(pg_timeout_ms),
                   .statement = milliseconds(statement_timeout_ms)};
    const worker::McTimeouts cache_timeouts{.connect = milliseconds(cache_timeout_ms / 2),
                                            .io = milliseconds(cache_timeout_ms)};
    // A write may start only if it ends, at its slowest, with a tenth of the lease to spare.
    const auto write_window = cache_timeouts.bound() + milliseconds(lease_ttl_ms / 10);

    log::init("worker", log_level);
    shutdown::install();
    metrics::Registry registry;
    std::atomic<bool> repair_asked{false};
    std::unique_ptr<worker::Lease> lease;
    std::unique_ptr<worker::PgSource> source;
    std::unique_ptr<worker::McSink> sink;
    try {
        lease = std::make_unique<worker::Lease>(
            worker::LeaseOptions{.url = pg.url,
                                 .name = "revalidator:" + pg.schema + "." + pg.table,
                                 .ttl = milliseconds(lease_ttl_ms),
                                 .network = milliseconds(pg_timeout_ms),
                                 .on_repair_request = [&] { repair_asked = true; }});
        source = std::make_unique<worker::PgSource>(pg);
        sink = std::make_unique<worker::McSink>(
            memcached, cache_connections, cache_timeouts,
            worker::WriteGate{.open = [&] { return lease->fresh_for(write_window); },
                              .closed_during_write = [&] { lease->request_repair(); }});
    } catch (const std::exception& e) {
        log::error("bad configuration", {{"error", e.what()}});
        return 2;
    }
    worker::Applier applier(*source, *sink, ap, registry);
    worker::Loop loop(applier, lp, registry);

    BearerAuth admin_auth({admin_secret.value});
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
    int bound = admin.bind(admin_host, admin_port);
    if (bound < 0) {
        log::error("cannot listen", {{"host", admin_host}, {"port", admin_port}});
        return 1;
    }
    std::thread admin_thread([&] { admin.serve(); });
    shutdown::on_request([&] { admin.stop(); });
    log::info("worker started",
              {{"bind", endpoint},
               {"curve", curve_on},
               {"curve_public_key", curve_on ? curve::public_key(curve_secret.value) : ""},
               {"admin_port", bound},
               {"table", pg.schema + "." + pg.table},
               {"prefix", ap.prefix},
               {"memcached", memcached}});

    int exit_code = 0;
    while (!shutdown::requested()) {
        log::info("standby: waiting for the lease", {{"table", pg.schema + "." + pg.table}});
        while (!lease->try_acquire()) {
            if (shutdown::wait_for(milliseconds(500))) break;
        }
        if (shutdown::requested() || shutdown::wait_for(milliseconds(takeover_delay_ms))) break;
        std::optional<worker::Consumer> consumer;
        try {
            consumer.emplace(endpoint, receive_hwm, curve_secret.value);
        } catch (const std::exception& e) {
            log::error("cannot bind", {{"bind", endpoint}, {"error", e.what()}});
            exit_code = 1;
            break;
        }
        active = true;
        log::info("active: lease taken, consuming", {{"bind", endpoint}});
        // Everything before this moment is covered by one full read.
        loop.request_resync("became active");
        auto wait = milliseconds(0);
        // A lost lease also closes the write gate at once (McSink throws Fenced); leaving here
        // unbinds the PULL socket, so events flow to the new active worker.
        while (!shutdown::requested() && lease->held()) {
            loop.ingest(consumer->receive(max_batch, std::min(wait, milliseconds(200))));
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
