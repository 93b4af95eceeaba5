#include "table_worker.hpp"

#include "anti_entropy.hpp"
#include "applier.hpp"
#include "batch_loop.hpp"
#include "cache/server_list.hpp"
#include "canary.hpp"
#include "canary_store.hpp"
#include "consumer.hpp"
#include "key_lister.hpp"
#include "lease.hpp"
#include "mc_sink.hpp"
#include "pg_source.hpp"
#include "role.hpp"
#include "runtime/log.hpp"

namespace revalidator::worker {

namespace {

using std::chrono::milliseconds;

// Keys one listing of the cache may hold; past this, the pass does without (50 bytes a key).
constexpr std::size_t kMaxListedKeys = 10'000'000;

BatchLoopConfig loop_with_canary(const TableConfig& t, std::function<void()> beat_seen) {
    BatchLoopConfig c = loop_config(t.cfg);
    if (t.cfg.canary_interval_ms > 0) {
        c.canary = canary_config(t).name;
        c.beat_seen = std::move(beat_seen);
    }
    return c;
}

McTimeouts cache_timeouts(const Config& cfg) {
    return {.connect = milliseconds(cfg.cache_timeout_ms / 2),
            .io = milliseconds(cfg.cache_timeout_ms)};
}

}  // namespace

std::unique_ptr<McKeyLister> key_lister(const Config& cfg, CrawlerWait wait) {
    return std::make_unique<McKeyLister>(
        *parse_server_list(cfg.memcached, 11211), milliseconds(cfg.cache_timeout_ms),
        milliseconds(10 * cfg.cache_timeout_ms), kMaxListedKeys, std::move(wait));
}

std::unique_ptr<McSink> read_only_cache(const Config& cfg) {
    // The gate is shut, so a write would throw before anything is sent.
    return std::make_unique<McSink>(
        cfg.memcached, cache_timeouts(cfg),
        WriteGate{.open = [] { return false; }, .closed_during_write = {}});
}

// Built in this order and destroyed in reverse (service.hpp): the role and the loop, then the
// anti-entropy pass, whose destructor waits for its threads, before the connections and cache
// handles those threads read through; the lease last, released by the role already. The canary's
// thread runs only inside run(), which stops and joins it once the role has returned.
struct TableWorker::Parts {
    Parts(const TableConfig& t, metrics::Registry& root, const std::string& labels,
          StopSignal& stop)
        : collection(t.collection),
          label(collection_label(t)),
          table(t.cfg.table.qualified()),
          scope(root, labels),
          lease(LeaseOptions{.url = t.cfg.postgres_url,
                             .name = "revalidator:" + table,
                             .ttl = milliseconds(t.cfg.lease_ttl_ms),
                             .network = milliseconds(t.cfg.pg_timeout_ms)}),
          source(pg_config(t.cfg)),
          // A write may start only if it ends, at its slowest, with a tenth of the lease to spare.
          sink(t.cfg.memcached, cache_timeouts(t.cfg),
               WriteGate{
                   .open = [this, window = cache_timeouts(t.cfg).bound() +
                                           milliseconds(t.cfg.lease_ttl_ms /
                                                        10)] { return lease.fresh_for(window); },
                   .closed_during_write = [this] { lease.request_repair(); }}),
          // The anti-entropy pass reads on a thread of its own, through a connection and a cache
          // handle of its own; it only reads through them.
          pass_source(t.cfg.verify_rate > 0 ? std::make_unique<PgSource>(pg_config(t.cfg))
                                            : nullptr),
          pass_cache(t.cfg.verify_rate > 0 ? read_only_cache(t.cfg) : nullptr),
          applier(source, sink, applier_config(t.cfg), scope),
          // A stop ends its wait for another client's crawl, so the pass's end never holds it.
          lister(t.cfg.verify_keys
                     ? key_lister(t.cfg,
                                  {.pause = [&stop](milliseconds d) { return !stop.wait_for(d); },
                                   .busy = &scope.counter(
                                       "revalidator_worker_cache_crawler_busy_total",
                                       "Listings of the cache's keys that found Memcached's one "
                                       "crawler busy with another crawl, and asked again")})
                     : nullptr),
          anti_entropy({pass_source ? *pass_source : source, pass_cache ? *pass_cache : sink}, sink,
                       applier, lister.get(), anti_entropy_config(t.cfg), scope),
          loop(applier,
               loop_with_canary(t,
                                [this] {
                                    if (canary) canary->arrived();
                                }),
               scope, &anti_entropy),
          role(
              lease,
              [bind = t.bind, hwm = t.cfg.receive_hwm, key = t.cfg.curve_secret_key.value] {
                  return std::make_unique<Consumer>(bind, hwm, key);
              },
              loop, stop,
              {.table = table,
               .bind = t.bind,
               .max_batch = t.cfg.max_batch,
               .takeover_delay = milliseconds(t.cfg.takeover_delay_ms)},
              scope),
          has_views(!t.cfg.views.empty()) {
        if (t.cfg.canary_interval_ms <= 0) return;
        const CanaryConfig c = canary_config(t);
        canary_scope =
            std::make_unique<metrics::Registry>(root, metrics::label("collection", c.name));
        canary_store = std::make_unique<PgCanaryStore>(
            t.cfg.canary_postgres_url.empty() ? t.cfg.postgres_url : t.cfg.canary_postgres_url,
            c.name, milliseconds(t.cfg.pg_timeout_ms));
        canary = std::make_unique<Canary>(
            *canary_store, c, [this] { return role.active(); }, *canary_scope);
    }

    std::string collection;
    std::string label;  // of its series and log lines
    std::string table;
    metrics::Registry scope;
    Lease lease;
    PgSource source;
    McSink sink;
    std::unique_ptr<PgSource> pass_source;
    std::unique_ptr<McSink> pass_cache;
    Applier applier;
    std::unique_ptr<McKeyLister> lister;
    AntiEntropy anti_entropy;
    BatchLoop loop;
    Role role;
    bool has_views;
    std::unique_ptr<metrics::Registry> canary_scope;
    std::unique_ptr<PgCanaryStore> canary_store;
    std::unique_ptr<Canary> canary;
};

TableWorker::TableWorker(const TableConfig& t, metrics::Registry& registry,
                         const std::string& labels, StopSignal& stop)
    : parts_(std::make_unique<Parts>(t, registry, labels, stop)) {}

TableWorker::~TableWorker() = default;

bool TableWorker::views_compile() {
    const log::Scope scope("collection", parts_->label);
    try {
        parts_->source.check();
    } catch (const BadView& e) {
        log::error("bad view", {{"error", e.what()}});
        return false;
    } catch (const RlsRefused& e) {
        log::error("row-level security hides rows from the worker's role",
                   {{"table", parts_->table}, {"error", e.what()}});
        return false;
    } catch (const std::exception& e) {
        log::warn(parts_->has_views ? "views not checked: postgres unavailable"
                                    : "row-level security not checked: postgres unavailable",
                  {{"table", parts_->table}, {"error", e.what()}});
    }
    return true;
}

int TableWorker::run() {
    const log::Scope scope("collection", parts_->label);
    if (!parts_->canary) return parts_->role.run();
    // The canary beats only while the role is active; it is stopped, after at most one bounded
    // Postgres call, however the role ends.
    parts_->canary->start();
    struct Stop {
        Canary& canary;
        ~Stop() { canary.stop(); }
    } stop{*parts_->canary};
    return parts_->role.run();
}

AdminTable TableWorker::admin() {
    return {parts_->collection, parts_->loop, [this] { return parts_->role.active(); },
            parts_->canary.get()};
}

bool TableWorker::started() {
    return table_readiness(admin()).ready || parts_->lease.held_elsewhere();
}

}  // namespace revalidator::worker
