#include "worker_config.hpp"

#include "cache/server_list.hpp"
#include "config/table_options.hpp"
#include "postgres/pg_conninfo.hpp"
#include "postgres/sql.hpp"
#include "wire/curve_keys.hpp"

namespace revalidator::worker {

void declare(config::Parser& p, Config& c) {
    p.option("--postgres-url", c.postgres_url,
             "libpq connection string or URL of the source database");
    p.option("--memcached", c.memcached, "Memcached server(s), host:port[,host:port...]");
    p.endpoints("--bind", c.bind,
                "ZeroMQ endpoint to bind the PULL socket on (ingresses connect here), "
                "tcp://HOST:PORT or ipc://PATH; one per served collection, separated by commas, "
                "in the order of --collection");
    p.secret("--curve-secret-key", c.curve_secret_key,
             "this worker's ZeroMQ CURVE secret key (Z85, 40 characters); when set, the PULL "
             "socket only accepts encrypted CURVE connections from ingresses given the matching "
             "public key (--generate-curve-keypair makes a pair)");
    config::declare(p, c.table);
    p.option("--order-by", c.order_by,
             "list order, e.g. \"published_at DESC, id\" (default: the primary key)");
    config::declare_list(p, c.list);
    p.collections(c.collections,
                  {"--schema", "--table", "--primary-key", "--prefix", "--order-by", "--list"});
    // Two names: in the file, `collection` is the [[collection]] tables, so the file says `serve`.
    p.option("--collection,--serve", c.collection,
             "the [[collection]] of the config file this worker serves (needed when it declares "
             "several), or several names separated by commas: one process then serves each "
             "table with a lease, connections and thread of its own; in the file: serve = [...]")
        ->delimiter(',');
    p.option("--max-item-bytes", c.max_item_bytes,
             "largest value written as one item; longer lists are split (docs/cache-layout.md)")
        ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 30));
    p.option("--part-recheck-ms", c.part_recheck_ms,
             "how long a list part known to be in the cache is trusted to stay there before a "
             "batch that reuses it checks again (0: every batch checks every part it reuses)")
        ->check(CLI::Range(0, 60'000));
    p.option("--absent-ttl-s", c.absent_ttl_s,
             "how long the marker that says a row does not exist lives, which the read routes "
             "answer with 404 (docs/cache-layout.md, \"Absent rows\"; 0: no markers)")
        ->check(CLI::Range(0, 86'400));
    p.option("--admin-host", c.admin_host, "address for /healthz, /readyz, /metrics, /resync");
    p.option("--admin-port", c.admin_port, "port for the admin endpoints (0 picks a free port)")
        ->check(CLI::Range(0, 65535));
    p.secret("--admin-secret", c.admin_secret,
             "bearer secret for POST /resync (the endpoint is off without one)");
    p.option("--cache-connections", c.cache_connections,
             "deprecated and ignored (a batch's keys are pipelined on one connection per "
             "server); accepted (0, the default, or 1-64), with a warning at start unless 0, so "
             "that configurations that set it still start")
        ->check(CLI::Range(0, 64));
    p.option("--max-batch", c.max_batch, "most events taken into one batch")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
    p.flag("--read-ahead", c.read_ahead,
           "read the next batch's rows from Postgres while this batch's writes are in flight "
           "(docs/architecture.md, \"Batches\")");
    p.option("--max-pending", c.max_pending, "rows owed before falling back to a full resync")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100'000'000}));
    p.option("--receive-hwm", c.receive_hwm, "ZeroMQ high-water mark of the PULL socket, in events")
        ->check(CLI::Range(1, 10'000'000));
    p.option("--resync-interval-s", c.resync_interval_s,
             "full resync period, a safety net (0: off)")
        ->check(CLI::Range(0, 7 * 86'400));
    p.option("--verify-rate", c.verify_rate,
             "rows per second the anti-entropy pass compares with Postgres, healing what differs "
             "(docs/operations.md, \"Repairing itself\"; 0: off)")
        ->check(CLI::Range(0, 10'000'000));
    p.option("--verify-slice", c.verify_slice,
             "rows compared in one step of the anti-entropy pass; a batch waits for at most one "
             "step")
        ->check(CLI::Range(std::size_t{10}, std::size_t{100'000}));
    p.flag("--verify-keys", c.verify_keys,
           "at the end of each anti-entropy pass, list the keys the cache holds under the prefix "
           "(lru_crawler metadump) and delete those no row has");
    p.flag("--allow-rls", c.allow_rls,
           "start even when row-level security filters the rows the worker's role reads, with a "
           "warning at every connection: the cache then holds only what the policies show that "
           "role (docs/supabase.md, \"Row-level security\"; without it the worker refuses)");
    p.option("--retry-max-ms", c.retry_max_ms, "longest wait between retries after a failure")
        ->check(CLI::Range(100, 3'600'000));
    p.option("--takeover-delay-ms", c.takeover_delay_ms,
             "after taking the lease, wait this long before writing: a margin for a write the "
             "previous holder's network still delivers late (docs/operations.md)")
        ->check(CLI::Range(0, 600'000));
    p.option("--lease-ttl-ms", c.lease_ttl_ms,
             "Postgres ends the lease's session after this long without a renewal, so a frozen "
             "or cut-off active worker is replaced within about this time; the active worker "
             "writes only while its last renewal is this fresh (docs/operations.md)")
        ->check(CLI::Range(1000, 600'000));
    p.option("--pg-timeout-ms", c.pg_timeout_ms,
             "connect timeout, and the time after which a silent Postgres peer is declared dead "
             "(TCP keepalives and user timeout on both ends)")
        ->check(CLI::Range(1000, 600'000));
    p.option("--statement-timeout-ms", c.statement_timeout_ms,
             "Postgres statement_timeout for the worker's reads (0: none)")
        ->check(CLI::Range(0, 3'600'000));
    p.option("--cache-timeout-ms", c.cache_timeout_ms,
             "longest wait on a Memcached socket (connecting takes at most half of it); one "
             "operation takes at most 2.5 times this")
        ->check(CLI::Range(50, 60'000));
    p.option("--canary-interval-ms", c.canary_interval_ms,
             "while active, write this collection's row of revalidator.canary this often and "
             "measure its webhook's way into the cache (docs/operations.md, \"The canary\"; 0: "
             "off)")
        ->check(CLI::Range(0, 3'600'000));
    p.option("--canary-postgres-url", c.canary_postgres_url,
             "libpq connection string or URL through which the canary writes revalidator.canary "
             "(a role that may write it; default: --postgres-url)");
    p.option("--log-level", c.log_level, "debug, info, warn or error")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
}

namespace {

// The declared collections `c.collection` names, in its order; empty after a problem.
std::vector<const Collection*> chosen(const Config& c, std::vector<config::Problem>& problems) {
    std::string names;
    for (const auto& collection : c.collections) {
        names += (names.empty() ? "" : ", ") + collection.name;
    }
    if (c.collection.empty()) {
        if (c.collections.size() == 1) return {&c.collections.front()};
        problems.push_back({"--collection",
                            "is not set: name the collections this worker serves "
                            "(separated by commas; `serve` in the file), of " +
                                names});
        return {};
    }
    std::vector<const Collection*> out;
    for (const auto& name : c.collection) {
        const Collection* found = nullptr;
        for (const auto& collection : c.collections) {
            if (collection.name == name) found = &collection;
        }
        if (!found) {
            problems.push_back({"--collection", "\"" + name +
                                                    "\" is not declared: name the "
                                                    "collections this worker serves, of " +
                                                    names});
            return {};
        }
        for (const auto* seen : out) {
            if (seen == found) {
                problems.push_back({"--collection", "\"" + name + "\" is named twice"});
                return {};
            }
        }
        out.push_back(found);
    }
    return out;
}

}  // namespace

std::vector<config::Problem> validate(Config& c,
                                      std::string (*public_key_of)(const std::string& secret_key)) {
    std::vector<config::Problem> problems;
    auto problem = [&](std::string option, std::string message) {
        problems.push_back({std::move(option), std::move(message)});
    };
    std::size_t tables = 1;
    if (!c.collections.empty()) {
        const auto served = chosen(c, problems);
        if (served.empty()) return problems;
        tables = served.size();
        c.table = served.front()->table;
        c.order_by = served.front()->order_by;
        c.views = served.front()->views;
        c.list = served.front()->list;
    } else if (!c.collection.empty()) {
        problem("--collection", "\"" + c.collection.front() +
                                    "\" is set but the configuration declares no [[collection]]");
    }
    const auto& binds = c.bind;
    if (binds.size() != tables) {
        problem("--bind", "names " + std::to_string(binds.size()) + " endpoint(s) for " +
                              std::to_string(tables) +
                              " served collection(s): give one per collection, in the order of "
                              "--collection");
    }
    for (std::size_t i = 0; i < binds.size(); ++i) {
        for (std::size_t j = 0; j < i; ++j) {
            if (binds[i] == binds[j]) problem("--bind", "\"" + binds[i] + "\" is named twice");
        }
    }
    config::check(c.table, problems);
    try {
        pg_conninfo(c.postgres_url, {});
    } catch (const std::invalid_argument& e) {
        problem("--postgres-url", e.what());
    }
    if (!c.canary_postgres_url.empty()) {
        try {
            pg_conninfo(c.canary_postgres_url, {});
        } catch (const std::invalid_argument& e) {
            problem("--canary-postgres-url", e.what());
        }
    }
    if (c.canary_interval_ms != 0 && c.canary_interval_ms < 100) {
        problem("--canary-interval-ms", "must be 0 (off) or at least 100");
    }
    if (auto servers = parse_server_list(c.memcached, 11211); !servers) {
        problem("--memcached", servers.error());
    }
    if (const auto& pk = c.table.primary_key; !pk.empty()) {
        auto order = sql::order_by(c.order_by.empty() ? pk : c.order_by, pk);
        if (!order) problem("--order-by", order.error());
    }
    if (c.lease_ttl_ms < 5 * c.cache_timeout_ms) {
        problem("--lease-ttl-ms",
                "must be at least 5 x --cache-timeout-ms, so that a write can end while the lease "
                "is still fresh (" +
                    std::to_string(c.lease_ttl_ms) + " < 5 x " +
                    std::to_string(c.cache_timeout_ms) + ")");
    }
    if (!c.curve_secret_key.value.empty()) {
        if (auto bad = curve::key_error(c.curve_secret_key.value)) {
            problem("--curve-secret-key", *bad);
        } else {
            c.curve_public_key = public_key_of(c.curve_secret_key.value);
            if (c.curve_public_key.empty()) {
                problem("--curve-secret-key", "this libzmq was built without CURVE support");
            }
        }
    }
    return problems;
}

std::vector<TableConfig> per_table(const Config& c) {
    if (c.collections.empty()) return {{"", c.bind.front(), c}};
    std::vector<config::Problem> reported;  // by validate(), before
    const auto served = chosen(c, reported);
    std::vector<TableConfig> out;
    for (std::size_t i = 0; i < served.size(); ++i) {
        const Collection& collection = *served[i];
        TableConfig t{collection.name, c.bind.at(i), c};
        t.cfg.collection = {collection.name};
        t.cfg.bind = {t.bind};
        t.cfg.table = collection.table;
        t.cfg.order_by = collection.order_by;
        t.cfg.views = collection.views;
        t.cfg.list = collection.list;
        out.push_back(std::move(t));
    }
    return out;
}

std::string collection_label(const TableConfig& t) {
    return t.collection.empty() ? t.cfg.table.name : t.collection;
}

PgConfig pg_config(const Config& c) {
    using std::chrono::milliseconds;
    return {.url = c.postgres_url,
            .table = c.table,
            .order_by = c.order_by,
            .timeouts = {.network = milliseconds(c.pg_timeout_ms),
                         .statement = milliseconds(c.statement_timeout_ms)},
            .views = c.views,
            .allow_rls = c.allow_rls};
}

ApplierConfig applier_config(const Config& c) {
    std::vector<std::string> views;
    for (const auto& v : c.views) views.push_back(v.key);
    return {.prefix = c.table.prefix,
            .primary_key = c.table.primary_key,
            .max_item_bytes = c.max_item_bytes,
            .part_recheck = std::chrono::milliseconds(c.part_recheck_ms),
            .views = std::move(views),
            .absent_ttl = std::chrono::seconds(c.absent_ttl_s),
            .list = c.list};
}

CanaryConfig canary_config(const TableConfig& t) {
    return {.name = t.collection.empty() ? t.cfg.table.name : t.collection,
            .interval = std::chrono::milliseconds(t.cfg.canary_interval_ms)};
}

BatchLoopConfig loop_config(const Config& c) {
    return {.table = c.table,
            .max_pending = c.max_pending,
            .read_ahead = c.read_ahead,
            .resync_interval = std::chrono::seconds(c.resync_interval_s),
            .retry_max = std::chrono::milliseconds(c.retry_max_ms)};
}

AntiEntropyConfig anti_entropy_config(const Config& c) {
    return {.prefix = c.table.prefix,
            .rows_per_second = static_cast<double>(c.verify_rate),
            .slice_rows = c.verify_slice};
}

}  // namespace revalidator::worker
