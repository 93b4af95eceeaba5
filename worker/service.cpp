#include "service.hpp"

#include <iostream>
#include <thread>

#include "admin.hpp"
#include "applier.hpp"
#include "bearer.hpp"
#include "consumer.hpp"
#include "lease.hpp"
#include "log.hpp"
#include "loop.hpp"
#include "mc_keys.hpp"
#include "mc_sink.hpp"
#include "pg_source.hpp"
#include "role.hpp"
#include "server_list.hpp"
#include "shutdown.hpp"
#include "verify.hpp"
#include "zmq_curve.hpp"

namespace revalidator::worker {

namespace {

// Keys one listing of the cache may hold; past this, the pass does without (50 bytes a key).
constexpr std::size_t kMaxListedKeys = 10'000'000;

std::unique_ptr<McKeyLister> key_lister(const Config& cfg) {
    using std::chrono::milliseconds;
    return std::make_unique<McKeyLister>(*parse_server_list(cfg.memcached, 11211),
                                         milliseconds(cfg.cache_timeout_ms),
                                         milliseconds(10 * cfg.cache_timeout_ms), kMaxListedKeys);
}

// For a handle that only reads: the gate is shut, so a write would throw before anything is sent.
WriteGate read_only() {
    return {.open = [] { return false; }, .closed_during_write = {}};
}

}  // namespace

int verify_once(const Config& cfg) {
    log::init("worker", cfg.log_level);
    try {
        PgSource source(pg_config(cfg));
        const McTimeouts timeouts{.connect = std::chrono::milliseconds(cfg.cache_timeout_ms / 2),
                                  .io = std::chrono::milliseconds(cfg.cache_timeout_ms)};
        McSink sink(cfg.memcached, 1, timeouts, read_only());
        std::unique_ptr<McKeyLister> lister;
        if (cfg.verify_keys) lister = key_lister(cfg);
        const auto report =
            verify(source, sink, {.prefix = cfg.table.prefix, .max_item_bytes = cfg.max_item_bytes},
                   lister.get());
        std::cout << describe(report, cfg.table.qualified()) << std::flush;
        if (!report.readable()) return 2;
        return report.equal() ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "revalidator-worker --verify: cannot verify: " << e.what() << "\n";
        return 2;
    }
}

int run(const Config& cfg) {
    const auto& curve_secret = cfg.curve_secret_key;
    const bool curve_on = !curve_secret.value.empty();
    if (curve_on && curve::public_key(curve_secret.value).empty()) {
        std::cerr << "revalidator-worker: bad configuration: --curve-secret-key: this libzmq was "
                     "built without CURVE support\n";
        return config::kUsage;
    }
    using std::chrono::milliseconds;
    const std::string table = cfg.table.qualified();
    const McTimeouts cache_timeouts{.connect = milliseconds(cfg.cache_timeout_ms / 2),
                                    .io = milliseconds(cfg.cache_timeout_ms)};
    // A write may start only if it ends, at its slowest, with a tenth of the lease to spare.
    const auto write_window = cache_timeouts.bound() + milliseconds(cfg.lease_ttl_ms / 10);

    log::init("worker", cfg.log_level);
    shutdown::install();
    metrics::Registry registry;
    std::unique_ptr<Lease> lease;
    std::unique_ptr<PgSource> source;
    std::unique_ptr<McSink> sink;
    // The anti-entropy pass reads on a thread of its own, through a connection and a cache handle
    // of its own; it only reads through them, so their gate is shut.
    std::unique_ptr<PgSource> pass_source;
    std::unique_ptr<McSink> pass_cache;
    try {
        lease = std::make_unique<Lease>(LeaseOptions{.url = cfg.postgres_url,
                                                     .name = "revalidator:" + table,
                                                     .ttl = milliseconds(cfg.lease_ttl_ms),
                                                     .network = milliseconds(cfg.pg_timeout_ms)});
        source = std::make_unique<PgSource>(pg_config(cfg));
        sink = std::make_unique<McSink>(
            cfg.memcached, cfg.cache_connections, cache_timeouts,
            WriteGate{.open = [&] { return lease->fresh_for(write_window); },
                      .closed_during_write = [&] { lease->request_repair(); }});
        if (cfg.verify_rate > 0) {
            pass_source = std::make_unique<PgSource>(pg_config(cfg));
            pass_cache = std::make_unique<McSink>(cfg.memcached, 1, cache_timeouts, read_only());
        }
    } catch (const std::exception& e) {
        log::error("cannot start", {{"error", e.what()}});
        return 1;
    }
    if (!cfg.views.empty()) {
        // A view Postgres refuses is a bad configuration: stop now, naming it. Postgres not
        // answering yet is not: every connection checks the views again.
        try {
            source->check();
        } catch (const BadView& e) {
            log::error("bad view", {{"error", e.what()}});
            return config::kUsage;
        } catch (const std::exception& e) {
            log::warn("views not checked: postgres unavailable", {{"error", e.what()}});
        }
    }
    Applier applier(*source, *sink, applier_config(cfg), registry);
    std::unique_ptr<McKeyLister> lister;
    if (cfg.verify_keys) lister = key_lister(cfg);
    AntiEntropy anti_entropy(
        {pass_source ? *pass_source : *source, pass_cache ? *pass_cache : *sink}, *sink, applier,
        lister.get(), anti_entropy_config(cfg), registry);
    Loop loop(applier, loop_config(cfg), registry, &anti_entropy);
    ProcessStop stop;
    Role role(
        *lease,
        [&] { return std::make_unique<Consumer>(cfg.bind, cfg.receive_hwm, curve_secret.value); },
        loop, stop,
        {.table = table,
         .bind = cfg.bind,
         .max_batch = cfg.max_batch,
         .takeover_delay = milliseconds(cfg.takeover_delay_ms)},
        registry);

    const BearerAuth admin_auth({cfg.admin_secret.value});
    http::Server admin(admin_tuning(), registry);
    add_admin_routes(admin, {registry, admin_auth, loop, [&] { return role.active(); }});
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
               {"curve_public_key", curve_on ? curve::public_key(curve_secret.value) : ""},
               {"admin_port", bound},
               {"table", table},
               {"prefix", cfg.table.prefix},
               {"memcached", cfg.memcached}});

    const int exit_code = role.run();
    admin.stop();
    admin_thread.join();
    log::info("worker stopped");
    return exit_code;
}

}  // namespace revalidator::worker
