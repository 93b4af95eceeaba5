// The running system a mode drives end to end (e2e, heal): the ingress's webhook URL and secret,
// the database and cache the worker uses, the worker's metrics and the watched table, with the
// command-line options every such mode takes alike.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "truth.hpp"

namespace loadgen {

struct Deployment {
    std::string url;
    std::string secret;
    std::string postgres_url;
    std::string memcached = "127.0.0.1:11211";
    std::string metrics_url;
    TableSpec table;
};

// --url, --secret (or REVALIDATOR_SECRET), --postgres-url, --memcached, --worker-metrics and the
// table's options (add_table_options).
void add_deployment_options(CLI::App& cmd, Deployment& d);

}  // namespace loadgen
