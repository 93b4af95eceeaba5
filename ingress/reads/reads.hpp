// The read API's logic (docs/read-api.md): GET {prefix} and GET {prefix}/{id} answered from the
// cache with the bytes the worker stored, and what a miss means. No sockets here: the cache is a
// CacheReads, the worker is reached through RequestFill.
//
// The promises, and why:
// - One writer. A read never writes the cache: the worker stays its only writer, so "never
//   backwards" keeps its proof. A row the cache misses is asked of the worker instead, with the
//   event an UPDATE webhook makes ("look at this row"), which it coalesces with the rest. However
//   many readers miss one row, it is asked once per fill wait.
// - Never a wrong answer. With a database (DatabaseReads), a miss is answered from Postgres: the
//   row's bytes as the worker renders them, or 404 when no row has that key; so is a row whose
//   cache server cannot be read (down, timed out). Concurrent misses of
//   one row share queries that started after they arrived (single_flight.hpp). Without one, or
//   when the database cannot answer (busy pool, unreachable), the miss may be a row that exists
//   but is not cached yet, so it is never a 404: the read waits up to `fill_wait` for the
//   worker's fill, then answers 503 with Retry-After. An id that cannot be a key is a 404 at
//   once: no such row can be served. So is a miss whose row the worker marked absent: only the
//   worker writes that marker, from Postgres, and deletes it before the row's key is written.
// - Never torn. A chunked list is read as its manifest names it and checked against the length
//   the manifest gives; a read that races a rewrite (a part already replaced) reads the head
//   again, up to three times, then answers 503.
// - Never staler than the cache. Every read asks the cache (or Postgres). A list's read asks its
//   version first (shared/cache/list_version.hpp): one small get that answers a revalidation, and
//   names the bytes the list store (list_store.hpp) may already hold. The store is keyed by that
//   version, a digest of the head, so what it holds is always some version's exact bytes: a head
//   read after its version (newer than it, or left by a write that failed) is kept and answered
//   under its own digest, never the version's. Without a usable version (evicted, an older worker)
//   the head is read and its digest taken: the parts of a chunked list are still read once a
//   version.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cache_reads.hpp"
#include "database_reads.hpp"
#include "list_store.hpp"
#include "runtime/metrics.hpp"
#include "single_flight.hpp"

namespace revalidator::ingress {

struct ReadSettings {
    std::string prefix;                        // the table's cache prefix (shared/config/table.hpp)
    std::chrono::milliseconds fill_wait{500};  // how long a missed row waits for the worker
    std::chrono::milliseconds poll_every{10};  // how often it looks meanwhile
    std::string labels{};  // of its metric series: the collection's (collection="articles")
};

// What the request asks beyond the resource: its If-None-Match, and whether it accepts gzip (then
// a 200's body is gzip and its tag is the gzip representation's, etag.hpp).
struct Conditions {
    std::string_view if_none_match;
    bool gzip = false;
};

struct ReadAnswer {
    int status = 200;  // 200, 304, 404 or 503
    // 200: the cached bytes, gzip-encoded when `gzip`; shared by every answer of the same list.
    std::shared_ptr<const std::string> body{};
    bool gzip = false;
    std::string etag{};   // 200 and 304 (etag.hpp)
    std::string error{};  // the others: a stable code and what exactly was wrong
    std::string detail{};
};

// One row read of a batch (Reads::rows): its answer, or none when the cache missed the row.
struct RowRead {
    std::string_view id;
    Conditions c;
    std::optional<ReadAnswer> answer{};
};

// One list read of a batch (Reads::lists): its answer, or none when it must be read alone.
struct ListRead {
    Conditions c;
    std::optional<ReadAnswer> answer{};
};

class Reads {
  public:
    // Asks the worker to look at row `id`; false when it could not be asked (the ingress's queue
    // is full or draining).
    using RequestFill = std::function<bool(const std::string& id)>;

    // `database` (may be null: misses wait for the worker) answers the rows the cache misses.
    // `lists` keeps the versions of the list read (shared by every Reads of the ingress).
    Reads(ReadSettings settings, CacheReads& cache, ListStore& lists, DatabaseReads* database,
          RequestFill fill, metrics::Registry& registry);

    ReadAnswer row(std::string_view id, const Conditions& c);
    // The rows of `reads` with one multi-get: each found (or whose id cannot be a key) gets its
    // answer; a miss, or all of them when the cache could not be read, gets none, for row() to
    // answer alone.
    void rows(std::span<RowRead> reads);
    ReadAnswer list(const Conditions& c);
    // The list reads of `reads` with one get of the list's version: each revalidated by it, or
    // whose version the store holds, gets its answer; the others (a new version, a version that
    // could not be read) get none, for list() to answer alone.
    void lists(std::span<ListRead> reads);

  private:
    struct Counters;
    // 304 when If-None-Match names the tag of `body` as `c` would receive it, else 200 with
    // `body` (gzip-encoded if asked), counted as `result`.
    ReadAnswer found(const char* route, const char* result, const Body& body, const Conditions& c);
    // Asks Postgres for a row the cache missed or could not read: an answer, or nullopt when it
    // could not say. `fill`: ask the worker to fill a row that exists.
    std::optional<ReadAnswer> from_database(std::string_view id, const std::string& key,
                                            const Conditions& c, bool fill);
    void ask_worker(std::string_view id, const std::string& key);
    // Whether the worker marked row `id` absent (docs/cache-layout.md, "Absent rows").
    bool marked_absent(std::string_view id);
    // The list's version as the cache holds it; nullopt when it could not be read or is not a
    // version, for the head to tell.
    std::optional<std::string> list_version_in_cache();
    // The list under the head the cache holds now, assembled once per version: its answer, or
    // nullopt when a part was gone (the list was replaced meanwhile).
    std::optional<ReadAnswer> assemble_list(const Conditions& c);
    ReadAnswer not_a_key(std::string_view id, const std::string& why);
    ReadAnswer unavailable(const char* route, const char* result, std::string error,
                           std::string detail);
    // Whether the worker should be asked for `key` now: not when it was asked within fill_wait.
    bool should_ask(const std::string& key, std::chrono::steady_clock::time_point now);

    ReadSettings settings_;
    CacheReads& cache_;
    ListStore& lists_;
    DatabaseReads* database_;
    RequestFill fill_;
    std::shared_ptr<Counters> counters_;
    std::mutex asked_mu_;
    std::unordered_map<std::string, std::chrono::steady_clock::time_point> asked_;
    SingleFlight<Result<std::optional<std::string>, DatabaseError>> flights_;
    std::mutex assemble_mu_;  // held while a version of the list is assembled
};

}  // namespace revalidator::ingress
