// The list's layout in Memcached. A list that fits in one item is stored as is under "{prefix}".
// A larger one (Memcached refuses items over 1 MiB by default) is split into parts
// "{prefix}:part:{generation}:{i}", written first, and "{prefix}" then holds a small manifest:
//   {"chunked":true,"generation":G,"parts":N,"bytes":B}
// Readers look at the first byte: '[' is the list, '{' a manifest; concatenating the parts in
// order gives the list. Parts of a generation are never rewritten, so a reader that fetched a
// manifest never mixes two lists. docs/cache-layout.md documents this for readers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace revalidator::worker {

struct ListItem {
    std::string key;
    std::string_view value;  // points into the list it was planned from
};

struct ListPlan {
    std::vector<ListItem> parts;  // empty when the list fits in one item
    std::string head;             // the list itself, or the manifest
};

// max_item_bytes 0 means no limit.
ListPlan plan_list(std::string_view prefix, std::string_view list, std::size_t max_item_bytes,
                   std::uint64_t generation);

std::string part_key(std::string_view prefix, std::uint64_t generation, std::size_t index);

}  // namespace revalidator::worker
