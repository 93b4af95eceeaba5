// The applier: turns one coalesced batch into cache writes. It reads the batch's rows and what the
// list needs from one snapshot, writes each row's key (or deletes it when the row is gone), then
// the list (list/list.hpp).
// A value that cannot be written is deleted, counted, logged and handed back for retry, so no
// stale value stays behind (promise 4). A full resync rewrites every key and deletes the keys of
// rows that no longer exist; which keys the cache holds is learned from the list it last wrote.
// A full resync is read in runs (RowSource::read_full): each run's keys are written as it comes
// and the list is fed it, so the rows are never all held at once; the list is written after the
// last run's keys, the keys of rows no longer there are deleted at the end.
// A row whose primary key cannot form a cache key (item_key) is never sent to the cache: it is
// skipped, counted and logged, and stays in the list (docs/cache-layout.md). Ids are matched to
// rows as the source spells them (Snapshot::asked), so "007" names row 7 of an integer key.
// A row a batch names and the source does not have gets a short-lived absent marker besides its
// deleted key, for the read routes' 404; a marker that may stand is deleted before its row's key
// is written, so a reader never finds the row missing and the marker there after the row came
// (docs/cache-layout.md, "Absent rows").
// Pure logic over RowSource and CacheSink: the unit tests drive it with fakes.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "cache_sink.hpp"
#include "list/list.hpp"
#include "pending.hpp"
#include "row_source.hpp"
#include "runtime/metrics.hpp"

namespace revalidator::worker {

// Built from the worker's Config (worker_config.hpp), which holds the defaults.
struct ApplierConfig {
    std::string prefix;
    std::string primary_key;
    std::size_t max_item_bytes = 0;
    // How long a list part known to be in the cache (written, or found by a check) is trusted to
    // be there still; a batch that reuses an older one checks it first. 0: every batch checks.
    std::chrono::milliseconds part_recheck{0};
    // The views' keys, in the order the source reads them (Snapshot::views).
    std::vector<std::string> views{};
    // How long an absent marker lives; 0: none is written.
    std::chrono::seconds absent_ttl{0};
    // Whether the collection has a list at `prefix` (collection.hpp): without one, none is kept
    // in memory or written, and a resync deletes one an earlier configuration left.
    bool list = true;
    // Rows a full resync reads and writes at a time: what it holds at once besides the list.
    std::size_t run_rows = 10'000;
};

struct Outcome {
    Batch retry;  // what is still owed (empty when the batch was applied in full)
    bool cache_unreachable = false;
    bool done() const { return retry.received.empty() && !retry.full && !retry.list; }
};

// A batch's rows as read, what was read for the list, and when the read started (a batch's time
// counts from there).
struct BatchRead {
    Snapshot snap;
    ListRows list = ListRows::Changes;
    std::chrono::steady_clock::time_point started;
};

class Applier {
  public:
    Applier(RowSource& source, CacheSink& sink, ApplierConfig cfg, metrics::Registry& registry);

    // Throws when the source cannot be read; the batch is then untouched and should be retried.
    Outcome apply(const Batch& b);
    // apply() in two halves, for a batch that is not a full resync, so that the loop can read the
    // next batch while this one's writes are in flight (batch_loop.hpp). The read reader() returns
    // touches the source alone: it may run on another thread, one read at a time, while this
    // applier writes an earlier batch. write() is the rest of apply(), on the applier's thread; it
    // reads again if the list came to need every row (List::wants) after the read was made.
    std::function<BatchRead()> reader(const Batch& b) const;
    Outcome write(const Batch& b, BatchRead read);
    // True once after the cache server(s) changed identity (a restart emptied them).
    bool cache_restarted();
    // This process became the table's writer: markers the previous writer wrote may stand for
    // up to their lifetime, unknown to it, so each row written meanwhile deletes its marker.
    void took_over();

    // For the anti-entropy pass (anti_entropy.hpp): the list as last followed, each view as last
    // followed (the i-th at the i-th of ApplierConfig::views), and the pks whose keys the cache
    // should hold.
    List& list() { return list_; }
    std::size_t view_count() const { return views_.size(); }
    List& view(std::size_t i) { return views_.at(i); }
    const std::string& view_key(std::size_t i) const { return cfg_.views.at(i); }
    const std::unordered_set<std::string>& cached_pks() const { return cached_; }

  private:
    bool write(const std::string& key, std::string_view value, Outcome& out);
    // Counts, logs, and deletes a refused key; false when the write did not land.
    bool settle(const std::string& key, std::string_view value, WriteStatus st, Outcome& out);
    // Writes the key of every row that can have one, at once, and returns their pks; the other
    // rows are skipped. Calls `owe` for each write that did not land.
    std::vector<std::string> write_rows(const std::vector<Row>& rows, Outcome& out,
                                        const std::function<void(const std::string&)>& owe);
    void skip_unkeyable(const Row& row, const std::string& why);
    WriteStatus remove(const std::string& key);
    // remove() of every key at once (CacheSink::remove_many), a status each.
    std::vector<WriteStatus> remove_all(const std::vector<std::string>& keys);
    // Writes `list`'s plan at `key`: its new parts, then its head, then deletes its old parts.
    bool write_list(List& list, const std::string& key, Outcome& out);
    // Each view rendered from `snap` and written, as the list is.
    bool write_views(Snapshot& snap, Outcome& out);
    // Whether a part the list would reuse is still in the cache: asked of the cache (a touch,
    // which also keeps it from eviction) unless it was known to be there within part_recheck.
    // At 100k rows a list has ~60 parts, and a round trip for each on every batch was most of
    // a batch's time.
    bool part_cached(const std::string& key, std::chrono::steady_clock::time_point now);
    void learn_cached_rows();
    struct Resynced {
        std::size_t rows = 0, keyed = 0, deleted = 0;
    };
    // A full resync's rows: read in runs, each run's keys written (their markers deleted first)
    // and the list fed; then the keys of rows no longer there deleted. `snap` gets the rest of
    // the read (its views).
    Resynced resync(Outcome& out, const std::function<void(const std::string&)>& owe,
                    Snapshot& snap);
    // For a collection without a list: deletes the list's version, head and parts, if any.
    void drop_list(Outcome& out);
    // Deletes the markers that may stand for `rows` (all of the table's rows when `full`), before
    // their keys are written; a delete that fails is owed.
    void unmark(const std::vector<Row>& rows, bool full, Outcome& out,
                const std::function<void(const std::string&)>& owe);
    // Marks rows `pks`, which the source does not have, absent for absent_ttl, all at once. A
    // marker that cannot be written is only counted: reads then wait for a fill, as without
    // markers.
    void mark_absent(const std::vector<std::string>& pks);
    static std::unordered_map<std::string, std::uint64_t> spelled(const Batch& b,
                                                                  const Snapshot& snap);

    RowSource& source_;
    CacheSink& sink_;
    ApplierConfig cfg_;
    // pks whose keys the cache holds; those learned from the cache are checked when used
    std::unordered_set<std::string> cached_;
    bool cached_known_ = false;
    std::size_t last_full_rows_ = 0;  // rows the last full resync read
    std::string cache_instance_;
    List list_;
    std::deque<List> views_;  // one per cfg_.views
    bool views_read_back_ = false;
    // When each part the list names was last known to be in the cache.
    std::unordered_map<std::string, std::chrono::steady_clock::time_point> parts_seen_;
    std::unordered_set<std::string> unkeyable_logged_;
    // The markers this process wrote, until they expire; and until when a previous writer's may.
    std::unordered_map<std::string, std::chrono::steady_clock::time_point> marked_;
    std::chrono::steady_clock::time_point inherited_until_{};

    metrics::Counter& batches_;
    metrics::Histogram& batch_size_;
    metrics::Counter& rows_read_;
    metrics::Histogram& read_seconds_;
    metrics::Histogram& batch_seconds_;
    metrics::Counter& list_rebuilds_;
    metrics::Histogram& list_seconds_;
    metrics::Counter& list_parts_written_;
    metrics::Counter& writes_;
    metrics::Counter& write_errors_;
    metrics::Counter& resyncs_;
    metrics::Counter& stale_deleted_;
    metrics::Counter& unkeyable_;
    metrics::Histogram& staleness_;
    metrics::Counter& markers_written_;
};

}  // namespace revalidator::worker
