// One table a worker process serves: its lease, its Postgres connections, its Memcached handles,
// its applier, loop, anti-entropy pass and role. A process serving several tables holds one of
// these per table, each run on a thread of its own, so that one table's failing reads, lost lease
// or slow batch never pauses another's (docs/configuration.md, "One worker, several tables").
#pragma once

#include <memory>
#include <string>

#include "admin.hpp"
#include "metadump.hpp"
#include "role_interfaces.hpp"
#include "runtime/metrics.hpp"
#include "worker_config.hpp"

namespace revalidator::worker {

class McKeyLister;
class McSink;

// The cache handles the anti-entropy pass and --verify read through: a handle whose write gate is
// shut, and the lister of the keys the servers hold, which waits for another client's crawl as
// `wait` says (metadump.hpp).
std::unique_ptr<McSink> read_only_cache(const Config& cfg);
std::unique_ptr<McKeyLister> key_lister(const Config& cfg, CrawlerWait wait);

class TableWorker {
  public:
    // Builds every part, registering its series in `registry` with `labels` (the table's
    // collection="..."). Throws when a part cannot be made. Its threads log with the table's
    // `collection` (log::Scope).
    TableWorker(const TableConfig& t, metrics::Registry& registry, const std::string& labels,
                StopSignal& stop);
    ~TableWorker();
    TableWorker(const TableWorker&) = delete;
    TableWorker& operator=(const TableWorker&) = delete;

    // False, after logging it, when Postgres refuses one of the table's views, or row-level
    // security filters the rows of the worker's role (rls.hpp): a bad configuration. Postgres not
    // answering is not; every connection checks both again.
    bool views_compile();
    // The role, standby then active, until a stop is requested (0) or the inbox cannot be
    // bound (1).
    int run();
    AdminTable admin();
    // Thread-safe. Whether the table is up as its service manager counts it (READY=1): ready as
    // /readyz says, or a standby that reaches Postgres and is told another worker is active. A
    // standby may wait for the lease for as long as the active worker lives, so waiting for it to
    // take over would never let it start.
    bool started();

  private:
    struct Parts;
    std::unique_ptr<Parts> parts_;
};

}  // namespace revalidator::worker
