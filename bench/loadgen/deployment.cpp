#include "deployment.hpp"

namespace loadgen {

void add_deployment_options(CLI::App& cmd, Deployment& d) {
    cmd.add_option("--url", d.url, "webhook endpoint, http://host:port/path")->required();
    cmd.add_option("--secret", d.secret, "sent as 'Authorization: Bearer <secret>'")
        ->envname("REVALIDATOR_SECRET");
    cmd.add_option("--postgres-url", d.postgres_url, "the database the worker reads")->required();
    cmd.add_option("--memcached", d.memcached, "the Memcached the worker writes")
        ->capture_default_str();
    cmd.add_option("--worker-metrics", d.metrics_url,
                   "the worker's metrics, http://host:admin-port/metrics");
    add_table_options(cmd, d.table);
}

}  // namespace loadgen
