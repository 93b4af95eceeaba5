// The worker's configuration: every setting, its default (the initialiser below) and its checks,
// in one place. declare() binds each field to its flag, environment variable and config-file key
// (shared/config/config.hpp); the table comes from the table flags or from the file's
// [[collection]] named by --collection (shared/config/collection.hpp), never both. validate()
// checks what one setting cannot check alone: the Postgres URL and the list order as libpq and the
// SQL builder read them, the Memcached servers, the lease's time against the cache's
// (docs/operations.md, "One writer, fenced") and the CURVE secret key, whose public key it derives.
// docs/configuration.md lists the settings for users.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "anti_entropy.hpp"
#include "applier.hpp"
#include "batch_loop.hpp"
#include "canary.hpp"
#include "config/collection.hpp"
#include "config/config.hpp"
#include "config/table.hpp"
#include "pg_source.hpp"

namespace revalidator::worker {

struct Config {
    std::string postgres_url = "postgresql://postgres@127.0.0.1:5432/postgres";
    std::string memcached = "127.0.0.1:11211";
    // One endpoint per served table, in the order of `collection`.
    std::vector<std::string> bind{"tcp://127.0.0.1:5555"};
    config::Secret curve_secret_key;
    std::string curve_public_key;  // derived from curve_secret_key by validate()
    Table table;
    std::string order_by;  // empty: the primary key
    // The config file's [[collection]] tables, and the names of those this worker serves.
    // validate() sets `table`, `order_by`, `views` and `list` from the first; per_table() gives
    // each served table's settings.
    std::vector<Collection> collections;
    std::vector<std::string> collection;
    std::vector<View> views;
    bool list = true;  // Collection::list
    std::size_t max_item_bytes = 1'000'000;
    int part_recheck_ms = 1000;
    int absent_ttl_s = 60;
    std::string admin_host = "127.0.0.1";
    int admin_port = 8081;
    config::Secret admin_secret;
    int cache_connections = 0;  // deprecated and ignored: any other value is warned about
    std::size_t max_batch = 10'000;
    bool read_ahead = false;
    std::size_t max_pending = 100'000;
    int receive_hwm = 100'000;
    int resync_interval_s = 300;
    int verify_rate = 5000;
    std::size_t verify_slice = 500;
    bool verify_keys = true;
    bool allow_rls = false;
    int retry_max_ms = 5000;
    int takeover_delay_ms = 1000;
    int lease_ttl_ms = 5000;
    int pg_timeout_ms = 10'000;
    int statement_timeout_ms = 30'000;
    int cache_timeout_ms = 1000;
    // The canary (canary.hpp): off at 0. Its writes go through canary_postgres_url, or
    // postgres_url when empty.
    int canary_interval_ms = 0;
    std::string canary_postgres_url;
    std::string log_level = "info";
};

void declare(config::Parser& parser, Config& cfg);
// `public_key_of` derives the public key of a well-formed CURVE secret key, empty when this libzmq
// was built without CURVE support (a problem of --curve-secret-key): curve::public_key
// (wire/zmq_curve.hpp) in the binary. A pointer, so that this library links no ZeroMQ.
std::vector<config::Problem> validate(Config& cfg,
                                      std::string (*public_key_of)(const std::string& secret_key));

// One served table's settings: its collection's name ("" without a config file), its --bind
// endpoint, and `cfg` with that table, its order and its views. A validated Config serves one
// table, or one per name of --collection (docs/configuration.md, "One worker, several tables").
struct TableConfig {
    std::string collection;
    std::string bind;
    Config cfg;
};
std::vector<TableConfig> per_table(const Config& cfg);
// The `collection` its metric series and log lines carry: the collection's name, or without a
// config file the table's, as the ingress names it (docs/metrics.md).
std::string collection_label(const TableConfig& t);

// What each part is built with, taken from the one Config: the service builds the worker with
// these, and the unit tests start from Config{} so that a default lives in one place only.
PgConfig pg_config(const Config& cfg);
ApplierConfig applier_config(const Config& cfg);
BatchLoopConfig loop_config(const Config& cfg);
AntiEntropyConfig anti_entropy_config(const Config& cfg);
// The canary of table `t`, named as the ingress names its collection.
CanaryConfig canary_config(const TableConfig& t);

}  // namespace revalidator::worker
