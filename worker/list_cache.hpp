// The list, kept in the worker's memory in list order and in segments, so that a batch re-reads
// only the rows it names and re-renders only the segments they fall in. At 100k rows (60 MB) the
// aggregate query costs more than a second and rendering the whole text tens of milliseconds; here
// a batch costs what changed. A segment holds whole rows and stays under `segment_bytes` (the
// cache's item limit), so that each one is one cache item (list_layout.hpp).
// Works when the list is ordered by an integer primary key alone (the default); for any other
// order the Postgres adapter reads the list from Postgres each batch. A full read replaces it, so
// it heals with every resync, like the item keys.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "row_source.hpp"

namespace revalidator::worker {

// Postgres' text form of a jsonb array: the elements joined by ", " in brackets (what
// jsonb_agg(...)::text returns for the same rows).
std::string jsonb_array_text(const std::vector<std::string_view>& elements);

class ListCache {
  public:
    // `versions` is shared with the other producers of segments, so versions never repeat.
    ListCache(std::size_t segment_bytes, std::uint64_t& versions)
        : segment_bytes_(segment_bytes), versions_(versions) {}

    bool valid() const { return valid_; }
    // After a full read: every row, in any order. Invalid if a key is not an integer. Every
    // segment is new afterwards, so a resync rewrites the whole list.
    void replace(const std::vector<Row>& rows);
    // After a batch read: `found` replace their rows; `pks` without a found row are removed.
    // `pks` are spelled as Postgres spells the key (sql::canonical); another spelling names no row.
    void apply(const std::vector<std::string>& pks, const std::vector<Row>& found);
    // The list now; segments untouched since the last call keep their version.
    std::vector<ListSegment> segments();

  private:
    struct Segment {
        std::map<std::int64_t, std::string> rows;
        std::size_t bytes = 0;  // rows plus a 2-byte separator each
        bool dirty = true;
        bool first = false;  // where it was rendered: the text starts with '[' / ends with ']'
        bool last = false;
        ListSegment rendered;
    };
    using Segments = std::map<std::int64_t, Segment>;  // keyed by the lowest pk each may hold

    Segments::iterator segment_for(std::int64_t pk);
    void put(std::int64_t pk, const std::string& json);
    void erase(std::int64_t pk);
    void rebalance();
    void render(Segment& s, bool first, bool last);

    std::size_t segment_bytes_;
    std::uint64_t& versions_;
    Segments segments_;
    ListSegment empty_;
    bool valid_ = false;
};

}  // namespace revalidator::worker
