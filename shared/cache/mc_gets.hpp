// Reading Memcached, the one way every reader of ours does it (the worker's sink, the ingress's
// reads, the bench's cache view, the integration tests), through a handle from mc_client.hpp:
// - every key is checked (check_key, cache_key.hpp) before it is sent: a key the text protocol
//   would misread never reaches the connection, and is answered BadKey;
// - a miss is told from an outage. A libmemcached multi-get reports the keys of a server it
//   cannot reach as if they were absent, so mc_get_many asks each key the multi-get did not
//   return again alone, which tells Absent from Unreachable;
// - in bounded time. A frozen server makes each of those gets wait the handle's full timeout, so
//   once one goes unanswered, or the multi-get itself ended in a server error, the keys still
//   unknown are answered Unreachable rather than waited for one by one: a frozen server costs a
//   reader about one timeout, never one per key.
// The time bounds are the handle's (MEMCACHED_BEHAVIOR_*_TIMEOUT), set by its owner. This header
// does not include libmemcached; mc_gets.cpp, an adapter, does.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct memcached_st;

namespace revalidator {

struct McLookup {
    enum class Status {
        Found,
        Absent,       // the key's server answered that it does not hold it
        Unreachable,  // its server did not answer (down, timed out): the key may be there
        BadKey,       // not sent: no item can have this key (check_key)
    };
    Status status = Status::Absent;
    std::string value;  // Found: the value
    std::string why;    // Unreachable: libmemcached's error; BadKey: check_key's reason
};

McLookup mc_get(memcached_st* mc, std::string_view key);

// A lookup per key, in order, with one multi-get and then a get per key it did not return (see
// above); a repeated key gets the answer of its first place.
std::vector<McLookup> mc_get_many(memcached_st* mc, std::span<const std::string> keys);

// One multi-get and nothing more: per key, in order, its value, or nullopt when the multi-get did
// not return it (absent, on a server that did not answer, or a bad key: only mc_get tells which).
// For readers that ask their misses alone anyway, or that read servers they know are up (a
// bench), and so need not pay a round trip per miss.
std::vector<std::optional<std::string>> mc_hits(memcached_st* mc,
                                                std::span<const std::string> keys);

}  // namespace revalidator
