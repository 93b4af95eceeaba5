// The list's layout in Memcached. A list that fits in one item is stored as is under "{prefix}".
// A larger one (Memcached refuses items over 1 MiB by default) is stored as parts, and "{prefix}"
// then holds a small manifest naming them in order (manifest.hpp); parts are named
// "{prefix}:part:G:i". Concatenating the parts in order gives the list. docs/cache-layout.md
// documents this for readers.
//
// Each list segment (segments.hpp) becomes one part, or several if it is over the item limit.
// A part key is never reused for other bytes, so a reader holding a manifest never mixes two lists;
// and a segment that did not change keeps the part written for it before. A batch therefore
// writes the segments it changed and a new manifest, not the whole list.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cache_sink.hpp"
#include "list/segments.hpp"

namespace revalidator::worker {

struct ListPlan {
    // To write before the head, only the new ones; values point into the segments planned from.
    std::vector<CacheItem> parts;
    std::string head;                   // the list itself, or the manifest
    std::vector<std::string> obsolete;  // parts no longer named: delete once the head is written
};

class ListLayout {
  public:
    // max_item_bytes 0 means no limit. Part keys are numbered from `generation` upwards.
    ListLayout(std::string prefix, std::size_t max_item_bytes, std::uint64_t generation);

    // What to write for `list`. A part written earlier for an unchanged segment is reused when
    // `still_cached(key)` says it is there (Memcached may have evicted it).
    ListPlan plan(const std::vector<ListSegment>& list,
                  const std::function<bool(const std::string&)>& still_cached);
    // The last plan's parts and head were written: its parts are now the ones named.
    void committed();
    // The head and parts the last committed plan for `list` wrote, as plan() would give them with
    // every part new; nullopt when `list` is not the list that plan was for.
    std::optional<ListPlan> written(const std::vector<ListSegment>& list) const;
    // The parts alone of written(): none for a list that is one item.
    std::optional<std::vector<CacheItem>> written_parts(const std::vector<ListSegment>& list) const;
    // Forgets which parts hold which segment: the next plan writes them all anew, and deletes
    // the ones named now once its head is written.
    void distrust();
    // The same for the one segment whose parts include `part_key`: the next plan writes that
    // segment anew and deletes its old parts once its head is written; the others are reused.
    void distrust_part(std::string_view part_key);
    // Parts found in the cache from an earlier process (read from its manifest): deleted after
    // the next list is written, and their numbers are not reused.
    void adopt(const std::vector<std::string>& part_keys);

  private:
    std::string prefix_;
    std::size_t max_item_bytes_;
    std::uint64_t generation_;
    std::unordered_map<std::uint64_t, std::vector<std::string>> named_;    // segment -> its parts
    std::unordered_map<std::uint64_t, std::vector<std::string>> planned_;  // the same, planned
    std::vector<std::string> adopted_;
};

std::string part_key(std::string_view prefix, std::uint64_t generation, std::size_t index);

}  // namespace revalidator::worker
