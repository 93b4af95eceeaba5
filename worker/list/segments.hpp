// The list in the worker's memory, in list order and in segments, so that a batch re-reads only
// the rows it names and re-renders only the segments they fall in. At 100k rows (60 MB) reading
// the whole list costs more than a second and rendering the whole text tens of milliseconds; here
// a batch costs what changed. A segment holds whole rows and stays under `segment_bytes` (the
// cache's item limit), so that each one is one cache item (layout.hpp).
// Rows are placed by their primary key, an integer or a uuid: only for a list ordered by that key
// alone (list.hpp decides when). Each key is held as bytes whose order is the key's order.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "row_source.hpp"

namespace revalidator::worker {

// A piece of the list: whole rows in list order. Concatenated in order, the segments are the
// list's JSON text. `version` names this exact text and is never reused for another, so a writer
// can skip a segment it has already written: the cost of a batch follows what changed.
struct ListSegment {
    std::uint64_t version = 0;
    std::shared_ptr<const std::string> text;
};

// Postgres' text form of a jsonb array: the elements joined by ", " in brackets (what
// jsonb_agg(...)::text returns for the same rows).
std::string jsonb_array_text(const std::vector<std::string_view>& elements);

class ListSegments {
  public:
    // `versions` is shared with the other producers of segments, so versions never repeat.
    ListSegments(std::size_t segment_bytes, std::uint64_t& versions)
        : segment_bytes_(segment_bytes), versions_(versions) {}

    bool valid() const { return valid_; }
    // Holds nothing and is invalid until the next replace().
    void clear() {
        segments_.clear();
        valid_ = false;
    }
    // After a full read: every row, in any order, keyed as `order` says (not None). Invalid if a
    // key is not of that kind. Every segment is new afterwards, so a resync rewrites the whole
    // list.
    void replace(const std::vector<Row>& rows, KeyOrder order);
    // After a batch read: `found` replace their rows; `pks` without a found row are removed.
    // `pks` are spelled as Postgres spells the key (sql::canonical); another spelling names no row.
    void apply(const std::vector<std::string>& pks, const std::vector<Row>& found);
    // The list now; segments untouched since the last call keep their version.
    std::vector<ListSegment> segments();
    // The rows held after the pk `after` up to and including `through` (nullopt: no bound), in
    // list order, as (pk, JSON); pks are spelled as Postgres spells them. Valid until the next
    // change.
    std::vector<std::pair<std::string, std::string_view>> rows_between(
        const std::optional<std::string>& after, const std::optional<std::string>& through) const;

  private:
    struct Segment {
        std::map<std::string, std::string> rows;  // by sort key
        std::size_t bytes = 0;                    // rows plus a 2-byte separator each
        bool dirty = true;
        bool first = false;  // where it was rendered: the text starts with '[' / ends with ']'
        bool last = false;
        ListSegment rendered;
    };
    using Segments = std::map<std::string, Segment>;  // by the lowest sort key each may hold

    Segments::iterator segment_for(const std::string& key);
    void put(const std::string& key, const std::string& json);
    void erase(const std::string& key);
    void rebalance();
    void render(Segment& s, bool first, bool last);

    std::size_t segment_bytes_;
    std::uint64_t& versions_;
    Segments segments_;
    ListSegment empty_;
    KeyOrder order_ = KeyOrder::None;
    bool valid_ = false;
};

}  // namespace revalidator::worker
