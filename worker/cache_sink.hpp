// Where the cache lives. The Memcached adapter (mc_sink) is the real one, tests use fakes.
// Write results are expected outcomes, not exceptions: a value can be refused (too large) or the
// server can be away, and the worker must then delete, count, log and retry (promise 4).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace revalidator::worker {

struct Lookup {
    std::optional<std::string> value;  // nullopt: a miss, or the server did not answer
    bool reachable = true;
};

enum class WriteStatus {
    Ok,
    Refused,      // the server refused this value (too large, out of memory); others may work
    Unreachable,  // the server did not answer; nothing will work until it is back
};

// Thrown by a sink when its writer may no longer write (the lease is not confirmed fresh,
// worker/lease.hpp): the batch stops where it is, and all of it stays owed. A cancellation, not
// an error: the loop neither counts it as a failure nor backs off.
struct Fenced : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// How a sink learns whether its process may still write (worker/lease.hpp).
struct WriteGate {
    // Asked before every write and delete: may one start now? Empty: always.
    std::function<bool()> open;
    // Called when the gate had closed by the time a write returned: a pause between the check
    // and the send (SIGSTOP, a stall) may have let that write land after the lease ended.
    std::function<void()> closed_during_write;
};

struct CacheItem {
    std::string key;
    std::string_view value;
    std::chrono::seconds ttl{0};  // dropped by Memcached after this long; 0: kept
};

class CacheSink {
  public:
    virtual ~CacheSink() = default;
    virtual WriteStatus set(std::string_view key, std::string_view value) = 0;
    // The status of each item, in order. Items are distinct keys, so they may be written in any
    // order or at once; the default writes them one by one.
    virtual std::vector<WriteStatus> set_many(std::span<const CacheItem> items) {
        std::vector<WriteStatus> out;
        out.reserve(items.size());
        for (const auto& item : items) {
            out.push_back(item.ttl.count() > 0 ? set_expiring(item.key, item.value, item.ttl)
                                               : set(item.key, item.value));
        }
        return out;
    }
    // A value that Memcached drops after `ttl` (an absent marker, docs/cache-layout.md).
    virtual WriteStatus set_expiring(std::string_view key, std::string_view value,
                                     std::chrono::seconds ttl) = 0;
    // Ok also when the key was not there.
    virtual WriteStatus remove(std::string_view key) = 0;
    // remove() of each key, a status each, in order; keys are distinct, so they may be deleted in
    // any order or at once. The default deletes them one by one.
    virtual std::vector<WriteStatus> remove_many(std::span<const std::string> keys) {
        std::vector<WriteStatus> out;
        out.reserve(keys.size());
        for (const auto& key : keys) out.push_back(remove(key));
        return out;
    }
    virtual Lookup get(std::string_view key) = 0;
    // A lookup per key, in order; the default asks one by one.
    virtual std::vector<Lookup> get_many(std::span<const std::string> keys) {
        std::vector<Lookup> out;
        out.reserve(keys.size());
        for (const auto& key : keys) out.push_back(get(key));
        return out;
    }
    // Whether the key is there, without fetching its value; false also when the server is away.
    virtual bool has(std::string_view key) { return get(key).value.has_value(); }
    // Names the running server process(es); it changes when a server restarts (and so comes back
    // empty), which nothing else reveals: the client reconnects and later writes just succeed.
    // Empty when a server does not answer or the sink cannot tell.
    virtual std::string instance() { return ""; }
};

}  // namespace revalidator::worker
