// Anti-entropy (docs/operations.md, "Repairing itself"): a webhook that is never sent, a cache
// written by something else, or a key left behind by a crash makes the cache differ from Postgres
// with nothing to announce it. The active worker therefore walks the table continuously, a slice
// of rows at a time and at a budget of rows per second, and compares three things for each slice:
//   - Postgres' digest of each row (md5 of the to_jsonb text, the bytes the cache holds) with the
//     digest of the value its key holds in the cache;
//   - the same digest with the row as the worker's list holds it, when the list is kept by key
//     (list/list.hpp): a lost webhook leaves the list wrong even where a reader's miss has since
//     filled the row's key;
//   - the rows the list holds in the slice's range with the rows Postgres has there: a lost DELETE.
// Each part of a chunked list is compared with the part the worker last wrote once a pass, spread
// over its steps, and the end of each pass compares the list's head and each view's head, with
// their versions. At the end of each pass it takes the keys the cache holds under the prefix
// (KeyLister, listed in the background during the pass) and the keys the worker wrote whose rows
// the pass did not see, and asks Postgres whether those rows exist: a row inserted during the pass
// does, a row deleted while no webhook said so does not.
//
// A step has two halves. The reading half (Postgres' digests, the cache's values, their md5s)
// runs on a thread of its own with a connection and a cache handle of its own (PassReaders), so
// that a batch never waits for a query or a multi-get of the pass; the loop's half compares the
// reading with the list in memory and takes microseconds. What a reading saw may be a batch older
// than the list it is compared with: that costs a false alarm, which costs one re-read.
//
// It heals rows through the loop: it returns the rows that differ, and the loop re-applies them as
// a batch that Postgres is read for (batch_loop.hpp). A repair is the same read-then-write as a
// webhook, with the same fencing and ordering, so it never writes a value older than the one it
// fixes. The one write it makes itself is the delete of a key no row can have (another spelling of
// an id, "007"), which no batch would name.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "applier.hpp"
#include "cache_sink.hpp"
#include "pending.hpp"
#include "repair_sources.hpp"
#include "runtime/metrics.hpp"

namespace revalidator::worker {

struct AntiEntropyConfig {
    std::string prefix;
    double rows_per_second = 0;  // 0: off
    std::size_t slice_rows = 500;
    // A pass starts at most this often, so that a small table is not read many times a second.
    std::chrono::milliseconds min_pass{1000};
    // Readings run on a thread of their own; false runs each in the step that starts it (the unit
    // tests' fakes are shared with the loop, and are not thread-safe).
    bool background = true;
};

// What the reading half of each step reads through. With AntiEntropyConfig::background, it is
// used from the pass's thread alone: give it a Postgres connection and a cache handle of its own.
struct PassReaders {
    DigestSource& source;
    CacheSink& cache;
};

// What a step found to differ: the rows to re-apply, and whether the list must be rewritten.
struct Repairs {
    std::vector<std::string> pks;
    bool list = false;
    bool empty() const { return pks.empty() && !list; }
};

class AntiEntropy {
  public:
    using Clock = std::chrono::steady_clock;

    // `cache` takes the deletes of keys no row has (through the worker's write gate). `lister`
    // may be null: keys nobody wrote are then not looked for.
    AntiEntropy(PassReaders readers, CacheSink& cache, Applier& applier, KeyLister* lister,
                AntiEntropyConfig cfg, metrics::Registry& registry);
    // Waits for the reading and the key listing under way on the pass's threads, which it alone
    // owns (each of their calls is bounded by its adapter's timeouts; the lister's wait for a
    // busy crawler ends with a stop). Destroy it before what `readers` and `lister` refer to.
    ~AntiEntropy();
    AntiEntropy(const AntiEntropy&) = delete;
    AntiEntropy& operator=(const AntiEntropy&) = delete;

    bool enabled() const { return cfg_.rows_per_second > 0; }
    // When the next step is due: soon, while a reading is under way.
    Clock::time_point due() const { return due_; }
    // Starts the reading of the next slice (or the pass's end) or, once that reading is done,
    // compares it and returns what differs. Call between batches: a row already owed to the cache
    // (its event not applied yet) may be found again, which costs nothing more than its read. A
    // failure (Postgres or the cache away, the write gate shut) is counted and logged; the slice is
    // tried again after a pause.
    Repairs step(Clock::time_point now);
    // The loop applied `batch`; what `outcome` still owes was not written. Each row key the pass
    // had found wrong and the batch wrote is healed: the time since the pass first found it wrong
    // is observed (a row found wrong pass after pass keeps its first time). On the loop's thread.
    void applied(const Batch& batch, const Outcome& outcome, Clock::time_point now);
    // This worker became the table's writer again: what it found in an earlier term is not its
    // to time (the other writer may have healed it meanwhile).
    void forget_found();

  private:
    // The reading half of a slice's step: rows by Postgres, compared with their keys' values.
    struct SliceReading {
        std::optional<std::string> after;
        std::vector<RowDigest> rows;
        bool last = false;
        std::vector<std::string> missing, wrong;  // pks
        std::size_t keys = 0;                     // row keys compared (rows that have one)
        // The cached value of each row found right: the list's copy of the row is then compared
        // by its bytes rather than digested again.
        std::unordered_map<std::string, std::string> right;
        std::optional<std::string> part_key;  // the list part read with the slice, and its value
        Lookup part;
    };
    // The reading half of a pass's end: which of the keys the pass did not account for have rows.
    struct EndReading {
        std::vector<std::string> vanished;  // written by the worker; no row has them
        std::vector<std::string> strays;    // listed in the cache, never written; no row has them
        std::size_t keys = 0;  // keys whose rows were asked after: written, or listed, and unseen
    };

    // Starts the reading of the next slice, or of the pass's end.
    void start();
    SliceReading read_slice(const std::optional<std::string>& after,
                            const std::optional<std::string>& part_key);
    EndReading read_end(const std::unordered_set<std::string>& accounted,
                        const std::vector<std::string>& written,
                        const std::optional<std::vector<std::string>>& listed);
    // `now`: the step's time, which a key found wrong is timed from.
    void compare(SliceReading reading, Repairs& out, Clock::time_point now);
    void end_pass(EndReading reading, Repairs& out, Clock::time_point now);
    // The ids the cache's keys name, from the listing started at the end of the last pass (it
    // runs on a thread of its own: at 100k keys it takes a tenth of a second, which no batch
    // should wait for); nullopt when there is none yet. Starts the next listing.
    std::optional<std::vector<std::string>> listed_ids();
    // Whether the cache holds `head` under `key` and its version beside it (readers trust the
    // version without reading the head); nullopt when the cache could not say.
    std::optional<bool> holds_as_written(const std::string& key, const std::string& head);
    // The head and its version at the end of a pass; the part of a chunked list a slice's reading
    // fetched.
    void compare_head(Repairs& out);
    // Each view's head at the end of a pass: a view is written only with a batch of its table, so
    // one evicted or overwritten in a quiet table would otherwise wait for the next change.
    void compare_views(Repairs& out);
    void compare_part(const SliceReading& reading, Repairs& out);
    void list_differs(Repairs& out);
    void found(metrics::Counter& kind, const std::string& pk, Repairs& out);
    // A row key found to hold what its row does not (absent, other bytes, or a row no longer
    // there): counted as wrong, and its first time kept until a batch heals it.
    void key_wrong(metrics::Counter& kind, const std::string& pk, Repairs& out,
                   Clock::time_point now);

    PassReaders readers_;
    CacheSink& cache_;
    Applier& applier_;
    KeyLister* lister_;
    AntiEntropyConfig cfg_;
    Clock::time_point due_{};
    std::optional<std::string> after_;  // the last pk of the previous slice
    bool ending_ = false;               // every slice is compared: the pass's end is next
    // Every pk this pass has accounted for: shown by Postgres, or found gone. Moved to the end's
    // reading.
    std::unordered_set<std::string> accounted_;
    // At most one reading is under way; the step that finds it done compares it.
    std::future<SliceReading> slice_reading_;
    std::future<EndReading> end_reading_;
    Clock::time_point reading_started_;
    std::future<std::optional<std::vector<std::string>>> listing_;
    std::size_t next_part_ = 0;
    std::size_t steps_ = 0;            // slices read this pass
    std::size_t last_pass_steps_ = 0;  // and in the last whole pass
    bool failing_ = false;  // logged once when steps start failing, once when one works again
    Clock::time_point pass_started_;
    // When the pass before this one started: every slice was verified since (a gauge reads it).
    std::shared_ptr<std::atomic<Clock::rep>> previous_pass_;
    // Row keys found wrong and not yet healed, with when the pass first found each; at most
    // kMaxWrongTracked (a cache emptied under a pass would otherwise grow it to the table).
    std::unordered_map<std::string, Clock::time_point> wrong_since_;

    metrics::Counter& rows_;
    metrics::Counter& passes_;
    metrics::Counter& failures_;
    metrics::Counter& missing_;
    metrics::Counter& wrong_;
    metrics::Counter& list_rows_;
    metrics::Counter& vanished_;
    metrics::Counter& stray_;
    metrics::Counter& list_;
    metrics::Counter& view_;
    metrics::Counter& keys_compared_;
    metrics::Counter& keys_wrong_;
    metrics::Histogram& wrong_age_;
    metrics::Histogram& seconds_;
    metrics::Histogram& read_seconds_;
};

}  // namespace revalidator::worker
