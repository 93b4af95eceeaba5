// The ingress's configuration: every setting, its default (the initialiser below) and its checks,
// in one place. declare() binds each field to its flag, environment variable and config-file key
// (shared/config/config.hpp); validate() checks what one setting cannot check alone and derives
// what the process needs from the settings (the signing keys, our CURVE public key). The tables
// served come either from the table flags or from the file's [[collection]] tables
// (shared/config/collection.hpp), never both. docs/configuration.md lists them for users.
#pragma once

#include <string>
#include <vector>

#include "auth.hpp"
#include "config/collection.hpp"
#include "config/config.hpp"
#include "http/http_server.hpp"
#include "reads/read_routes.hpp"
#include "webhook.hpp"

namespace revalidator::ingress {

struct Config {
    std::string host = "127.0.0.1";
    int port = 8080;
    std::vector<std::string> worker_endpoints{"tcp://127.0.0.1:5555"};
    std::string instance_id;  // the hostname unless given
    std::string curve_server_key;
    config::Secret curve_secret_key;
    std::string curve_public_key;  // derived from curve_secret_key by validate()
    config::Secret secret;
    config::Secret secret_previous;
    config::Secret signing_secret;
    SigningConfig signing;  // keys derived from signing_secret by validate()
    bool insecure_no_auth = false;
    Table table;
    bool list = true;  // Collection::list of the table the flags declare
    // The [[collection]] tables of the config file; when there are none, the table flags and
    // --worker-endpoint declare the one collection (served()).
    std::vector<Collection> collections;
    http::Tuning http;
    std::size_t queue_capacity = 100'000;
    int send_hwm = 1000;
    int drain_timeout_ms = 5000;
    // The read routes (docs/read-api.md): served only when `memcached` names the cache.
    std::string memcached;
    config::Secret read_secret;
    std::string read_cache_control = "public, no-cache";
    int read_fill_wait_ms = 500;
    int read_timeout_ms = 100;
    std::string read_postgres_url;  // empty: a miss waits for the worker's fill
    int read_postgres_pool = 4;
    int read_postgres_timeout_ms = 1000;
    ReadLanes read_lanes;
    // The list store's bound (reads/list_store.hpp): several versions of a 6 MB list and its gzip.
    std::size_t read_list_store_bytes = std::size_t{64} << 20;
    std::string log_level = "info";
};

void declare(config::Parser& parser, Config& cfg);
// `public_key_of` derives the public key of a well-formed CURVE secret key, empty when this libzmq
// was built without CURVE support (a problem of --curve-secret-key): curve::public_key
// (wire/zmq_curve.hpp) in the binary. A pointer, so that this library links no ZeroMQ.
std::vector<config::Problem> validate(Config& cfg,
                                      std::string (*public_key_of)(const std::string& secret_key));

// The collections this ingress serves: the file's, or the one the flags declare.
std::vector<Collection> served(const Config& cfg);

}  // namespace revalidator::ingress
