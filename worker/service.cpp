#include "service.hpp"

#include <algorithm>
#include <iostream>
#include <thread>

#include "admin.hpp"
#include "http/bearer.hpp"
#include "key_lister.hpp"
#include "mc_sink.hpp"
#include "pg_source.hpp"
#include "role.hpp"
#include "runtime/log.hpp"
#include "runtime/notify.hpp"
#include "runtime/process_metrics.hpp"
#include "runtime/shutdown.hpp"
#include "table_worker.hpp"
#include "verify.hpp"

namespace revalidator::worker {

int verify_once(const Config& cfg) {
    log::init("worker", cfg.log_level);
    int worst = 0;
    for (const auto& t : per_table(cfg)) {
        try {
            PgSource source(pg_config(t.cfg));
            auto cache = read_only_cache(t.cfg);
            std::unique_ptr<McKeyLister> lister;
            if (t.cfg.verify_keys) {
                lister = key_lister(t.cfg, {.pause = [](std::chrono::milliseconds d) {
                                        std::this_thread::sleep_for(d);
                                        return true;
                                    }});
            }
            const auto report = verify(source, *cache,
                                       {.prefix = t.cfg.table.prefix,
                                        .max_item_bytes = t.cfg.max_item_bytes,
                                        .list = t.cfg.list},
                                       lister.get());
            std::cout << describe(report, t.cfg.table.qualified()) << std::flush;
            worst = std::max(worst, !report.readable() ? 2 : report.equal() ? 0 : 1);
        } catch (const std::exception& e) {
            std::cerr << "revalidator-worker --verify: cannot verify " << t.cfg.table.qualified()
                      << ": " << e.what() << "\n";
            worst = 2;
        }
    }
    return worst;
}

int run(const Config& cfg) {
    log::init("worker", cfg.log_level);
    shutdown::install();
    metrics::Registry registry;
    metrics::add_process_metrics(registry);
    ProcessStop stop;
    const auto tables = per_table(cfg);
    std::vector<std::unique_ptr<TableWorker>> workers;
    for (const auto& t : tables) {
        // Labelled however many tables the process serves, so that a dashboard or an alert reads
        // the same series when tables move between workers.
        const std::string labels = metrics::label("collection", collection_label(t));
        const log::Scope scope("collection", collection_label(t));
        try {
            workers.push_back(std::make_unique<TableWorker>(t, registry, labels, stop));
        } catch (const std::exception& e) {
            log::error("cannot start", {{"table", t.cfg.table.qualified()}, {"error", e.what()}});
            return 1;
        }
        if (!workers.back()->views_compile()) return config::kUsage;
    }

    const BearerAuth admin_auth({cfg.admin_secret.value});
    http::Server admin(admin_tuning(), registry);
    std::vector<AdminTable> admin_tables;
    for (auto& w : workers) admin_tables.push_back(w->admin());
    add_admin_routes(admin, {registry, admin_auth, std::move(admin_tables)});
    int bound = admin.bind(cfg.admin_host, cfg.admin_port);
    if (bound < 0) {
        log::error("cannot listen", {{"host", cfg.admin_host}, {"port", cfg.admin_port}});
        return 1;
    }
    std::jthread admin_thread([&] { admin.serve(); });
    nlohmann::json served = nlohmann::json::array();
    for (const auto& t : tables) {
        served.push_back({{"collection", t.collection},
                          {"table", t.cfg.table.qualified()},
                          {"prefix", t.cfg.table.prefix},
                          {"bind", t.bind}});
    }
    log::info("worker started", {{"tables", served},
                                 {"curve", !cfg.curve_secret_key.value.empty()},
                                 {"curve_public_key", cfg.curve_public_key},
                                 {"admin_port", bound},
                                 {"memcached", cfg.memcached}});
    if (cfg.cache_connections != 0) {
        log::warn(
            "--cache-connections is deprecated and ignored: a batch's keys are pipelined "
            "on one connection per Memcached server; remove it from the configuration",
            {{"cache_connections", cfg.cache_connections}});
    }

    // Each table's role on a thread of its own. A table whose inbox cannot be bound stops the
    // whole process (exit 1), as it stops a one-table worker: its supervisor restarts it, and
    // meanwhile every lease is released, so the other tables' standbys take over at once.
    std::vector<int> codes(workers.size(), 0);
    std::vector<std::jthread> roles;
    for (std::size_t i = 0; i < workers.size(); ++i) {
        roles.emplace_back([&, i] {
            codes[i] = workers[i]->run();
            if (codes[i] != 0) shutdown::request();
        });
    }
    // READY=1 for the service manager once every table is up (TableWorker::started), polled as
    // /readyz would be; a stop before then sends nothing more.
    std::jthread announcer([&] {
        while (!shutdown::wait_for(std::chrono::milliseconds(100))) {
            if (std::all_of(workers.begin(), workers.end(), [](auto& w) { return w->started(); })) {
                notify::send("READY=1");
                log::info("worker ready");
                return;
            }
        }
    });
    // The stop, in the order service.hpp states, from this thread alone (the signal thread only
    // wakes it): every thread that uses this frame is joined before the frame ends.
    shutdown::wait();
    announcer.join();
    admin.stop();
    for (auto& t : roles) t.join();
    admin_thread.join();
    log::info("worker stopped");
    return *std::max_element(codes.begin(), codes.end());
}

}  // namespace revalidator::worker
