// The manifest: what "{prefix}" holds when the list is stored as parts (docs/cache-layout.md),
//   {"chunked":true,"bytes":B,"parts":["{prefix}:part:G:0", ...]}
// B is the list's length in bytes, the parts are named in list order. A head is a manifest when
// its first byte is '{' (the list itself starts with '[').
// It is the contract between the worker, which writes it, and every reader (the ingress's reads),
// so it lives here rather than in the worker's list module.
// A manifest read back from the cache is hostile input: decode checks every part name with the
// rules of a cache key (shared/cache/cache_key.hpp), so none that Memcached would misread is sent.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/result.hpp"

namespace revalidator::manifest {

bool is_manifest(std::string_view head);

std::string encode(std::size_t bytes, const std::vector<std::string>& parts);

struct Rejected {
    std::string key;
    std::string reason;  // why it cannot be a cache key (check_key)
};

struct Decoded {
    std::vector<std::string> parts;    // the names that can be keys, in order
    std::vector<Rejected> rejected;    // the names that cannot; the list is then incomplete
    std::optional<std::size_t> bytes;  // the list's length, when "bytes" is a non-negative integer
};

// An error when `head` is not a JSON object with a "parts" array. Entries that are not strings
// are passed over. A reader checks the parts it fetched against `bytes`; the worker, which knows
// its own list, does not need it.
Result<Decoded, std::string> decode(std::string_view head);

}  // namespace revalidator::manifest
