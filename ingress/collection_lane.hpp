// One collection the ingress serves: its own event stream, a queue and a publisher to that
// collection's workers alone, so that each table's workers see a contiguous sequence; and, when
// the cache is named, its read routes: the list and the rows, and one list per view, under
// metric series labelled with the collection (and the view). The ingress holds one lane per
// collection (service.hpp composes them); the lanes share the HTTP server, the cache handle, the
// list store and the metrics registry, which must outlive them.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "event_queue.hpp"
#include "ingress_config.hpp"
#include "reads/cache_reads.hpp"
#include "reads/list_store.hpp"
#include "reads/read_routes.hpp"
#include "runtime/metrics.hpp"

namespace revalidator::ingress {

// What the reads of every collection share: the cache and the versions of lists kept from it.
struct ReadCache {
    CacheReads& cache;
    ListStore& lists;
};

class CollectionLane {
  public:
    // The queue stamps its events with cfg.instance_id and `epoch`. `cache` null: no read routes
    // (--memcached is not set); `read_auth` null: reads are public. Throws when a part cannot be
    // made.
    CollectionLane(const Config& cfg, Collection collection, std::uint64_t epoch,
                   const ReadCache* cache, const BearerAuth* read_auth,
                   metrics::Registry& registry);
    ~CollectionLane();
    CollectionLane(const CollectionLane&) = delete;
    CollectionLane& operator=(const CollectionLane&) = delete;

    const std::string& name() const;
    const Table& table() const;
    // Where the intake puts this table's webhooks.
    EventQueue& queue();
    // The list's and rows' routes, then each view's; none without a cache.
    const std::vector<ReadRouteContext>& read_routes() const;
    const std::map<std::string, std::set<std::string>>& read_patterns() const;

    int connected_peers() const;
    std::size_t queue_depth() const;

    // Starts the publisher's thread.
    void start();
    // Refuses every further webhook: the drain's first step (EventQueue::close).
    void close();
    // Call once nothing pushes any more (Publisher::drain): sends what is queued and END, giving
    // up at `deadline`.
    void drain(std::chrono::steady_clock::time_point deadline);

  private:
    struct Parts;
    std::unique_ptr<Parts> parts_;
};

}  // namespace revalidator::ingress
