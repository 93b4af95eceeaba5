// What the read routes need of the cache: one key, or many at once (the parts of a chunked list).
// A miss is an answer, not an error; an error means the cache could not be asked (unreachable,
// timed out), and the read answers 503. mc_reader.hpp is the Memcached adapter; tests use fakes.
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
    // The values of the keys that were found; a key that is absent was a miss.
    virtual Result<std::unordered_map<std::string, std::string>, std::string> get_many(
        const std::vector<std::string>& keys) = 0;
};

}  // namespace revalidator::ingress
