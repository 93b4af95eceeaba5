// What the read routes need of the cache: one key, many at once (the parts of a chunked list), or
// the hits of a batch of rows. A miss is an answer, not an error; an error means the cache could
// not be asked (unreachable, timed out), and the read answers 503: a key on a server that is down
// is never taken for a miss. mc_reader.hpp is the Memcached adapter; tests use fakes.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/result.hpp"

namespace revalidator::ingress {

class CacheReads {
  public:
    virtual ~CacheReads() = default;
    // The value of `key`, or nullopt on a miss.
    virtual Result<std::optional<std::string>, std::string> get(const std::string& key) = 0;
    // The values of the keys that were found; a key left out was a miss. An error when the server
    // of any key could not be asked.
    virtual Result<std::unordered_map<std::string, std::string>, std::string> get_many(
        const std::vector<std::string>& keys) = 0;
    // What one multi-get finds, and nothing more: a key left out may be a miss or on a server that
    // did not answer, which only get() tells. For a batch whose misses are then read alone anyway,
    // so that a batch costs one round trip however many of its keys miss.
    virtual std::unordered_map<std::string, std::string> hits(
        const std::vector<std::string>& keys) = 0;
};

}  // namespace revalidator::ingress
