// Cache keys: "{prefix}" for the list, "{prefix}/{id}" for a row. Memcached's text protocol allows
// keys up to 250 bytes with no whitespace or control characters; a key that breaks these rules is
// misread (a space or "\r\n" inside ends it, and the rest is taken as more arguments or as the
// next command). Ids that cannot form such a key are refused at the door (422); ids read from
// Postgres or from the cache itself are checked here again before any key is built from them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "runtime/result.hpp"

namespace revalidator {

inline constexpr std::size_t kMaxKeyBytes = 250;

// Why `id` cannot be part of a key (e.g. "contains a space"), or nullopt when it can.
std::optional<std::string> check_key_part(std::string_view id);

// Why `prefix` cannot prefix every key (it must start with '/' and be a valid key itself).
std::optional<std::string> check_prefix(std::string_view prefix);

// Why `key` cannot be sent to Memcached, or nullopt when it can: the rules of check_key_part, with
// the protocol's own limit of kMaxKeyBytes. For whole keys read back from the cache.
std::optional<std::string> check_key(std::string_view key);

// The key of row `id` under a prefix that passed check_prefix, or why the row cannot have one
// (check_key_part). Every row key is built here, so none is sent without the check.
Result<std::string, std::string> item_key(std::string_view prefix, std::string_view id);

// The key of row `id`'s absent marker, "{prefix}:absent/{id}": the worker writes it, short-lived,
// when it finds no such row, and the read routes answer it with 404 (docs/cache-layout.md,
// "Absent rows"). Outside "{prefix}/", so no reader can take it for a row, and the row key stays
// absent when the row is. The same check as item_key; 8 bytes longer, still within the limit.
Result<std::string, std::string> absent_key(std::string_view prefix, std::string_view id);
// What a marker holds: not JSON, so that it cannot pass for a row either.
inline constexpr std::string_view kAbsentValue = "absent";

}  // namespace revalidator
