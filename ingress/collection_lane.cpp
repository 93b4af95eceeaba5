#include "collection_lane.hpp"

#include <algorithm>

#include "publisher.hpp"
#include "reads/pg_reader.hpp"
#include "reads/reads.hpp"
#include "runtime/clock.hpp"

namespace revalidator::ingress {

namespace {

using std::chrono::milliseconds;

ReadSettings read_settings(const Config& cfg, std::string prefix, std::string labels) {
    return {.prefix = std::move(prefix),
            .fill_wait = milliseconds(cfg.read_fill_wait_ms),
            .labels = std::move(labels)};
}

}  // namespace

// Built in this order and destroyed in reverse: the queue first, since the publisher sends from
// it and the rows' reads ask it for fills; the Postgres reader before the reads that answer
// misses through it; the routes last, as they name the reads.
struct CollectionLane::Parts {
    Parts(const Config& cfg, Collection c, std::uint64_t epoch, const ReadCache* cache,
          const BearerAuth* read_auth, metrics::Registry& registry)
        : collection(std::move(c)),
          labels(metrics::label("collection", collection.name)),
          queue(cfg.instance_id, epoch, cfg.queue_capacity),
          publisher(queue,
                    PublisherConfig{.endpoints = collection.workers,
                                    .send_hwm = cfg.send_hwm,
                                    .table = collection.table,
                                    .labels = labels,
                                    .collection = collection.name,
                                    .curve_server_key = cfg.curve_server_key,
                                    .curve_public_key = cfg.curve_public_key,
                                    .curve_secret_key = cfg.curve_secret_key.value},
                    registry) {
        if (!cache) return;
        const Table& table = collection.table;
        // A miss is answered from Postgres when a read URL is set, and asks the worker to fill
        // the row with the event an UPDATE webhook makes (docs/read-api.md, "What a miss means").
        auto fill = [&queue = queue, table](const std::string& id) {
            return queue.fill(table.schema, table.name, id, unix_micros()) ==
                   EventQueue::Push::Queued;
        };
        if (!cfg.read_postgres_url.empty()) {
            database = std::make_unique<PgReader>(
                PgReaderSettings{.url = cfg.read_postgres_url,
                                 .table = table,
                                 .pool = static_cast<std::size_t>(cfg.read_postgres_pool),
                                 .timeout = milliseconds(cfg.read_postgres_timeout_ms),
                                 .collection = collection.name});
        }
        reads = std::make_unique<Reads>(read_settings(cfg, table.prefix, labels), cache->cache,
                                        cache->lists, database.get(), fill, registry);
        read_routes.push_back({.reads = *reads,
                               .prefix = table.prefix,
                               .cache_control = cfg.read_cache_control,
                               .read_auth = read_auth,
                               .list = collection.list});
        read_patterns.merge(read_route_patterns(table.prefix));
        // Each view's list, read as the list is; a view has no rows to fill.
        for (const auto& view : collection.views) {
            auto& list = views.emplace_back(std::make_unique<Reads>(
                read_settings(cfg, view.key, labels + "," + metrics::label("view", view.name)),
                cache->cache, cache->lists, nullptr, [](const std::string&) { return false; },
                registry));
            read_routes.push_back({*list, view.key, cfg.read_cache_control, read_auth, false});
            read_patterns.merge(read_route_patterns(view.key, false));
        }
    }

    Collection collection;
    std::string labels;
    EventQueue queue;
    Publisher publisher;
    std::unique_ptr<PgReader> database;
    std::unique_ptr<Reads> reads;
    std::vector<std::unique_ptr<Reads>> views;
    std::vector<ReadRouteContext> read_routes;
    std::map<std::string, std::set<std::string>> read_patterns;
};

CollectionLane::CollectionLane(const Config& cfg, Collection collection, std::uint64_t epoch,
                               const ReadCache* cache, const BearerAuth* read_auth,
                               metrics::Registry& registry)
    : parts_(
          std::make_unique<Parts>(cfg, std::move(collection), epoch, cache, read_auth, registry)) {}

CollectionLane::~CollectionLane() = default;

const std::string& CollectionLane::name() const {
    return parts_->collection.name;
}

const Table& CollectionLane::table() const {
    return parts_->collection.table;
}

EventQueue& CollectionLane::queue() {
    return parts_->queue;
}

const std::vector<ReadRouteContext>& CollectionLane::read_routes() const {
    return parts_->read_routes;
}

const std::map<std::string, std::set<std::string>>& CollectionLane::read_patterns() const {
    return parts_->read_patterns;
}

int CollectionLane::connected_peers() const {
    return parts_->publisher.connected_peers();
}

std::size_t CollectionLane::queue_depth() const {
    return parts_->queue.depth();
}

void CollectionLane::start() {
    parts_->publisher.start();
}

void CollectionLane::close() {
    parts_->queue.close();
}

void CollectionLane::drain(std::chrono::steady_clock::time_point deadline) {
    parts_->publisher.drain(std::max(
        milliseconds(0),
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now())));
}

}  // namespace revalidator::ingress
