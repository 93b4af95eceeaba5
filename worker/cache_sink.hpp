// Where the cache lives. The Memcached adapter (mc_sink) is the real one, tests use fakes.
// Write results are expected outcomes, not exceptions: a value can be refused (too large) or the
// server can be away, and the worker must then delete, count, log and retry (promise 4).
#pragma once

#include <optional>
#include <span>
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

struct CacheItem {
    std::string key;
    std::string_view value;
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
        for (const auto& item : items) out.push_back(set(item.key, item.value));
        return out;
    }
    // Ok also when the key was not there.
    virtual WriteStatus remove(std::string_view key) = 0;
    virtual Lookup get(std::string_view key) = 0;
    // Whether the key is there, without fetching its value; false also when the server is away.
    virtual bool has(std::string_view key) { return get(key).value.has_value(); }
    // Names the running server process(es); it changes when a server restarts (and so comes back
    // empty), which nothing else reveals: the client reconnects and later writes just succeed.
    // Empty when a server does not answer or the sink cannot tell.
    virtual std::string instance() { return ""; }
};

}  // namespace revalidator::worker
