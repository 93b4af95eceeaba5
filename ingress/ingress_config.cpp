#include "ingress_config.hpp"

#include <unistd.h>

#include "cache/server_list.hpp"
#include "config/table_options.hpp"
#include "postgres/pg_conninfo.hpp"
#include "wire/curve_keys.hpp"

namespace revalidator::ingress {

namespace {

std::string hostname() {
    char buf[256] = {};
    return gethostname(buf, sizeof(buf) - 1) == 0 && buf[0] ? std::string(buf) : "ingress";
}

}  // namespace

void declare(config::Parser& p, Config& c) {
    c.instance_id = hostname();
    p.option("--host", c.host, "address to listen on");
    p.option("--port", c.port,
             "HTTP port for POST /revalidate, the read routes (with --memcached), /healthz, "
             "/readyz and /metrics (0 picks a free port)")
        ->check(CLI::Range(0, 65535));
    p.endpoints("--worker-endpoint", c.worker_endpoints,
                "ZeroMQ endpoint(s) of the worker's PULL socket, tcp://HOST:PORT or ipc://PATH; "
                "several for active + standby workers");
    p.option("--curve-server-key", c.curve_server_key,
             "the worker's ZeroMQ CURVE public key (Z85, 40 characters); with --curve-secret-key, "
             "the link to the worker is encrypted and the worker authenticated (empty: "
             "plaintext)");
    p.secret("--curve-secret-key", c.curve_secret_key,
             "this ingress's own CURVE secret key (Z85, 40 characters; revalidator-worker "
             "--generate-curve-keypair makes one)");
    p.option("--instance-id", c.instance_id,
             "stable name of this instance; the worker tracks one event stream per instance");
    p.secret("--secret", c.secret, "shared secret expected as 'Authorization: Bearer <secret>'");
    p.secret("--secret-previous", c.secret_previous,
             "a second bearer secret accepted during rotation");
    p.secret("--signing-secret", c.signing_secret,
             "Standard Webhooks signing secret(s), whsec_<base64>, separated by commas (several "
             "during rotation)");
    p.option("--signature-tolerance-s", c.signing.options.tolerance_s,
             "accept a signed webhook whose timestamp is at most this far from our clock; its "
             "webhook-id is remembered this long against replays")
        ->check(CLI::Range(1, 86'400));
    p.option("--replay-cache-entries", c.signing.options.replay_capacity,
             "most webhook-ids remembered against replays (503 while full)")
        ->check(CLI::Range(1, 10'000'000));
    p.flag("--insecure-no-auth", c.insecure_no_auth,
           "accept webhooks without any authentication (local tests only)");
    config::declare(p, c.table);
    config::declare_list(p, c.list);
    p.collections(c.collections, {"--schema", "--table", "--primary-key", "--prefix", "--list",
                                  "--worker-endpoint"});
    p.option("--max-body-bytes", c.http.limits.max_body_bytes,
             "largest webhook body accepted, chunked or not (413 above)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30));
    p.option("--max-header-bytes", c.http.limits.max_header_bytes,
             "largest request line plus headers accepted (431 above)")
        ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 20));
    p.option("--http-threads", c.http.loops,
             "HTTP event-loop threads (0: one per core); connections are not threads")
        ->check(CLI::Range(0, 1024));
    p.option("--max-connections", c.http.max_connections,
             "HTTP connections open at once; a further one gets 503 and is closed")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
    p.option("--request-timeout-s", c.http.request_timeout_s,
             "a request must arrive in full this long after its first byte (408 after)")
        ->check(CLI::Range(1, 3600));
    p.option("--keep-alive-s", c.http.keep_alive_s, "close a keep-alive connection idle this long")
        ->check(CLI::Range(1, 3600));
    p.option("--queue-capacity", c.queue_capacity,
             "events held while the worker is slow or away (503 above)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}));
    p.option("--send-hwm", c.send_hwm, "ZeroMQ high-water mark toward each worker, in events")
        ->check(CLI::Range(1, 1'000'000));
    p.option("--drain-timeout-ms", c.drain_timeout_ms,
             "on SIGTERM, how long the drain may take: open connections are answered for at most "
             "half of it, queued events are sent within all of it")
        ->check(CLI::Range(0, 3'600'000));
    p.option("--memcached", c.memcached,
             "Memcached server(s) the read routes GET {prefix} and GET {prefix}/{id} read, "
             "host:port[,host:port...] as the worker's (empty: no read routes)")
        ->check(CLI::Validator(
            [](std::string& s) {
                auto servers = parse_server_list(s, 11211);
                return s.empty() || servers ? std::string() : servers.error();
            },
            "SERVERS"));
    p.secret("--read-secret", c.read_secret,
             "bearer secret the read routes require (empty: reads are public); never the same "
             "as a webhook secret");
    p.option(
        "--read-cache-control", c.read_cache_control,
        "Cache-Control of every read answer (docs/read-api.md, \"Tags and caching in front\")");
    p.option("--read-fill-wait-ms", c.read_fill_wait_ms,
             "a read that misses asks the worker to fill the row and waits this long for it "
             "before answering 503 with Retry-After")
        ->check(CLI::Range(0, 10'000));
    p.option("--read-timeout-ms", c.read_timeout_ms,
             "bound on each Memcached call of a read (connect, and each wait for an answer)")
        ->check(CLI::Range(1, 10'000));
    p.option("--read-postgres-url", c.read_postgres_url,
             "libpq connection string or URL the read routes ask for a row the cache misses, "
             "read-only (may name a replica, docs/read-api.md); empty: a miss waits for the "
             "worker's fill");
    p.option("--read-postgres-pool", c.read_postgres_pool,
             "connections the read routes may open to --read-postgres-url; a miss that finds "
             "them all busy for --read-postgres-timeout-ms waits for the worker's fill instead")
        ->check(CLI::Range(1, 256));
    p.option("--read-postgres-timeout-ms", c.read_postgres_timeout_ms,
             "bound on a read's wait for a free connection, on its Postgres query and on a silent "
             "connection; connecting takes at most this rounded up to seconds, and at least 2 s")
        ->check(CLI::Range(1, 60'000));
    p.option("--read-hit-threads", c.read_lanes.hit_threads,
             "threads of the row lane: they answer row reads from the cache, in batches")
        ->check(CLI::Range(1, 1024));
    p.option("--read-batch", c.read_lanes.batch,
             "row reads a row-lane thread takes at once when several wait, read from the cache "
             "with one multi-get, and reads of one list a list-lane thread takes at once, "
             "answered with one get of its version; 1 reads each on its own")
        ->check(CLI::Range(std::size_t{1}, std::size_t{4096}));
    p.option("--read-threads", c.read_lanes.miss_threads,
             "threads of the miss lane: they answer the rows the cache missed, which may wait on "
             "Postgres or the worker's fill")
        ->check(CLI::Range(1, 1024));
    p.option("--read-list-threads", c.read_lanes.list_threads,
             "threads of the list lane: they answer lists and views")
        ->check(CLI::Range(1, 1024));
    p.option("--read-list-store-bytes", c.read_list_store_bytes,
             "bytes of list and view versions (and their gzip) kept to answer reads without "
             "reading them from the cache again; past it the least recently used go. Set it "
             "above the largest list with its gzip: a larger version is read anew for every "
             "request")
        ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 40));
    p.option("--read-queue", c.read_lanes.queue,
             "reads waiting in the misses and the lists lane, and batches of --read-batch rows "
             "in the rows lane; beyond it a read of that lane gets 503 busy, the other lanes "
             "go on")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
    p.option("--max-connection-output-bytes", c.http.max_connection_output,
             "answers one connection may have waiting to be written before it gets no further "
             "request answered")
        ->check(CLI::Range(std::size_t{4096}, std::size_t{1} << 30));
    p.option("--max-output-bytes", c.http.max_output,
             "answers all connections may have waiting to be written, a shared body counted "
             "once; above it a read gets 503 busy")
        ->check(CLI::Range(std::size_t{1} << 20, std::size_t{1} << 40));
    p.option("--log-level", c.log_level, "debug, info, warn or error")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
}

std::vector<config::Problem> validate(Config& c,
                                      std::string (*public_key_of)(const std::string& secret_key)) {
    std::vector<config::Problem> problems;
    auto problem = [&](std::string option, std::string message) {
        problems.push_back({std::move(option), std::move(message)});
    };
    if (c.instance_id.empty()) {
        problem("--instance-id", "must not be empty: the worker drops events of an unnamed stream");
    }
    if (c.collections.empty()) config::check(c.table, problems);
    for (const auto& collection : c.collections) {
        if (collection.workers.empty()) {
            problem("collection.workers", "collection \"" + collection.name +
                                              "\" names no workers: the ingress pushes its "
                                              "events to their endpoints");
        }
    }
    const bool server_key = !c.curve_server_key.empty();
    const bool secret_key = !c.curve_secret_key.value.empty();
    if (server_key && !secret_key) {
        problem("--curve-secret-key",
                "--curve-server-key is set but --curve-secret-key (or --curve-secret-key-file) is "
                "missing: CURVE needs both");
    } else if (secret_key && !server_key) {
        problem("--curve-server-key",
                "--curve-secret-key is set but --curve-server-key (the worker's public key) is "
                "missing: CURVE needs both");
    } else if (server_key) {
        if (auto bad = curve::key_error(c.curve_server_key)) problem("--curve-server-key", *bad);
        if (auto bad = curve::key_error(c.curve_secret_key.value)) {
            problem("--curve-secret-key", *bad);
        } else {
            c.curve_public_key = public_key_of(c.curve_secret_key.value);
            if (c.curve_public_key.empty()) {
                problem("--curve-secret-key", "this libzmq was built without CURVE support");
            }
        }
    }
    auto keys = parse_signing_secrets(c.signing_secret.value);
    if (keys) {
        c.signing.keys = std::move(*keys);
    } else {
        problem("--signing-secret", keys.error());
    }
    if (c.secret.value.empty() && c.secret_previous.value.empty() &&
        c.signing_secret.value.empty() && !c.insecure_no_auth) {
        problem("--secret",
                "no secret configured: set --secret (REVALIDATOR_SECRET) or --secret-file for "
                "bearer auth, --signing-secret or --signing-secret-file for Standard Webhooks "
                "signatures, or pass --insecure-no-auth for local tests");
    }
    if (!c.read_secret.value.empty() &&
        (c.read_secret.value == c.secret.value || c.read_secret.value == c.secret_previous.value)) {
        problem("--read-secret",
                "must differ from --secret and --secret-previous: a read secret is handed to "
                "readers and must never grant webhooks");
    }
    if (!c.read_postgres_url.empty()) {
        if (c.memcached.empty()) {
            problem("--read-postgres-url",
                    "is set but --memcached is not: the read routes, which use it, are off");
        }
        try {
            pg_conninfo(c.read_postgres_url, {});
        } catch (const std::invalid_argument& e) {
            problem("--read-postgres-url", e.what());
        }
    }
    for (const auto& collection : served(c)) {
        if (c.memcached.empty()) break;
        std::vector<std::pair<std::string, std::string>> lists{
            {c.collections.empty() ? "--prefix" : "collection.prefix", collection.table.prefix}};
        for (const auto& v : collection.views) lists.emplace_back("collection.view.key", v.key);
        for (const auto& [option, key] : lists) {
            for (const char* route : {"/revalidate", "/healthz", "/readyz", "/metrics"}) {
                if (key == route || std::string_view(route).starts_with(key + "/")) {
                    problem(option, "'" + key + "' would serve reads on " + route +
                                        ", which the ingress serves itself");
                }
            }
        }
    }
    return problems;
}

std::vector<Collection> served(const Config& c) {
    if (!c.collections.empty()) return c.collections;
    return {
        {.name = c.table.name, .table = c.table, .workers = c.worker_endpoints, .list = c.list}};
}

}  // namespace revalidator::ingress
