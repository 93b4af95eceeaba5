// The list: the one owner of the list's life in the worker. Fed the rows of each snapshot, it
// keeps the list in memory (segments.hpp), lays it out in the cache (layout.hpp) and reads its
// own manifest back (manifest.hpp); the row source only returns rows, the applier writes the plan.
//
// How it follows the table is the seam between the two ways of keeping the list:
// - the list is ordered by an integer or uuid primary key alone (the default order on such a
//   key): a row's key is its position, so after a full read a batch needs only the rows it names,
//   and re-renders only the segments they fall in;
// - any other order: the list asks the source for every row, in list order, on every batch, and
//   is one segment rendered from them.
// Which way is decided at each full read (Snapshot::key_order), which starts over, so the
// list heals with every resync, like the item keys. A full read may be fed in runs (start_full,
// add_full, finish_full); until it is finished the list is not one a batch can follow, and one
// abandoned half way (its source failed, or its writes were fenced) is rebuilt by the next read.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache_sink.hpp"
#include "list/layout.hpp"
#include "list/segments.hpp"
#include "row_source.hpp"

namespace revalidator::worker {

class List {
  public:
    // `max_item_bytes` is the cache's item limit, and so the size of a segment (0: no limit).
    // Part keys are numbered from `generation` upwards (layout.hpp).
    List(std::string prefix, std::size_t max_item_bytes, std::uint64_t generation);

    // What a read that is not full must return besides the rows asked for.
    ListRows wants() const;
    // The table as `snap` shows it: read in full, or with wants().
    void follow(const Snapshot& snap, bool full);
    // A full read in runs: start_full, every row, in list order, run by run (`order` is
    // Snapshot::key_order), then finish_full. The rows are placed as they come, and not held
    // besides. start_full forgets what a full read abandoned half way placed, so that a retried
    // one does not place its rows a second time.
    void start_full() { filling_ = false; }
    void add_full(const std::vector<Row>& run, KeyOrder order);
    void finish_full(KeyOrder order);
    // Whether there is a list to plan: false after a full read that could not be followed by key
    // (a key not of its kind), until a read with wants() rebuilds it.
    bool ready() const { return complete_; }
    std::size_t segment_count() const { return list_.size(); }

    // What to write for the list now. A part written earlier for an unchanged segment is reused
    // when `still_cached(key)` says it is there (Memcached may have evicted it).
    ListPlan plan(const std::function<bool(const std::string&)>& still_cached);
    // The last plan's parts and head were written.
    void committed();

    // For the anti-entropy pass (anti_entropy.hpp). The rows in the pk range (after, through], as
    // ListSegments::rows_between; nullopt when the list is not kept by key.
    std::optional<std::vector<std::pair<std::string, std::string_view>>> rows_between(
        const std::optional<std::string>& after, const std::optional<std::string>& through) const;
    // The head and the parts the cache should hold now: nullopt unless the list in memory is the
    // one last written. `parts` point into the list.
    std::optional<ListPlan> in_cache() const;
    // The parts of in_cache() alone, without building the head: none for a list that is one item.
    std::optional<std::vector<CacheItem>> parts_in_cache() const;
    // The cache's copy is not what was written: the next plan writes every part anew (under new
    // keys) and deletes the old ones, rather than reuse a part it can no longer trust.
    void distrust_cache();
    // The same for the segment of one part only (a part evicted, or overwritten by another
    // writer): a 60 MB list at 100k rows is not rewritten for one 1 MB part.
    void distrust_part(std::string_view part_key);

    // The list under the head as the cache holds it (an earlier process may have written it):
    // nullopt, and `reachable` as the cache answered, when it is not there whole. The parts its
    // manifest names are adopted: deleted after the next list is written.
    Lookup read_back(CacheSink& sink);
    // The same, handed to `piece` a part at a time instead of joined, so that a list of 600 MB
    // is never held whole; `value` of the answer stays empty. A part missing half way ends it.
    Lookup read_back(CacheSink& sink, const std::function<void(std::string_view)>& piece);

  private:
    std::string prefix_;
    std::uint64_t versions_ = 0;  // one counter for every segment, so versions never repeat
    ListSegments segments_;
    ListLayout layout_;
    std::vector<ListSegment> list_;
    bool written_ = false;  // list_ is what the cache was last given
    // No full read is under way, or abandoned: segments_ (when valid) holds the whole table.
    bool complete_ = true;
    bool filling_ = false;  // a full read is under way
    std::string flat_;      // the list being read in full, when not kept by key
};

}  // namespace revalidator::worker
