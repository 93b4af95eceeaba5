// The read API's logic (docs/read-api.md): GET {prefix} and GET {prefix}/{id} answered from the
// cache with the bytes the worker stored, and what a miss means. No sockets here: the cache is a
// CacheReads, the worker is reached through RequestFill.
//
// The promises, and why:
// - One writer. A read never writes the cache: the worker stays its only writer, so "never
//   backwards" keeps its proof. A row the cache misses is asked of the worker instead, with the
//   event an UPDATE webhook makes ("look at this row"), which it coalesces with the rest. However
//   many readers miss one row, it is asked once per fill wait.
// - Never a wrong answer. A miss may be a row that exists but is not cached yet (evicted, a cold
//   cache, a write being retried), so it is never a 404: the read waits up to `fill_wait` for the
//   worker's fill, then answers 503 with Retry-After. A 404 is only for an id that cannot be a
//   key, since such a row can never be served. (Reading Postgres on a miss is the next step of
//   docs/read-api.md.)
// - Never torn. A chunked list is read as its manifest names it and checked against the length
//   the manifest gives; a read that races a rewrite (a part already replaced) reads the head
//   again, up to three times, then answers 503.
// - Never staler than the cache. Nothing is kept here between reads.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cache_reads.hpp"
#include "metrics.hpp"

namespace revalidator::ingress {

struct ReadSettings {
    std::string prefix;                        // the table's cache prefix (shared/table.hpp)
    std::chrono::milliseconds fill_wait{500};  // how long a missed row waits for the worker
    std::chrono::milliseconds poll_every{10};  // how often it looks meanwhile
};

struct ReadAnswer {
    int status = 200;     // 200, 304, 404 or 503
    std::string body{};   // 200: the cached bytes
    std::string etag{};   // 200 and 304 (etag.hpp)
    std::string error{};  // the others: a stable code and what exactly was wrong
    std::string detail{};
};

class Reads {
  public:
    // Asks the worker to look at row `id`; false when it could not be asked (the ingress's queue
    // is full or draining).
    using RequestFill = std::function<bool(const std::string& id)>;

    Reads(ReadSettings settings, CacheReads& cache, RequestFill fill, metrics::Registry& registry);

    ReadAnswer row(std::string_view id, std::string_view if_none_match);
    ReadAnswer list(std::string_view if_none_match);

  private:
    struct Counters;
    // 304 when If-None-Match names `etag`, else 200 with `body`, counted as `result`.
    ReadAnswer found(const char* route, const char* result, std::string body, std::string etag,
                     std::string_view if_none_match);
    ReadAnswer unavailable(const char* route, const char* result, std::string error,
                           std::string detail);
    // Whether the worker should be asked for `key` now: not when it was asked within fill_wait.
    bool should_ask(const std::string& key, std::chrono::steady_clock::time_point now);

    ReadSettings settings_;
    CacheReads& cache_;
    RequestFill fill_;
    std::shared_ptr<Counters> counters_;
    std::mutex asked_mu_;
    std::unordered_map<std::string, std::chrono::steady_clock::time_point> asked_;
};

}  // namespace revalidator::ingress
