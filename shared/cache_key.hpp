// Cache keys: "{prefix}" for the list, "{prefix}/{id}" for a row. Memcached's text protocol allows
// keys up to 250 bytes with no whitespace or control characters; ids that cannot form such a key
// are refused at the door (422) rather than failing later in the worker.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace revalidator {

inline constexpr std::size_t kMaxKeyBytes = 250;

// Why `id` cannot be part of a key (e.g. "contains a space"), or nullopt when it can.
std::optional<std::string> check_key_part(std::string_view id);

// Why `prefix` cannot prefix every key (it must start with '/' and be a valid key itself).
std::optional<std::string> check_prefix(std::string_view prefix);

std::string item_key(std::string_view prefix, std::string_view id);

}  // namespace revalidator
