// The list in the worker's memory, in list order and in segments, so that a batch re-reads only
// the rows it names and re-renders only the segments they fall in. At 100k rows (60 MB) reading
// the whole list costs more than a second and rendering the whole text tens of milliseconds; here
// a batch costs what changed. A segment holds whole rows and stays under `segment_bytes` (the
// cache's item limit), so that each one is one cache item (layout.hpp).
// Rows are placed by their primary key, an integer or a uuid: only for a list ordered by that key
// alone (list.hpp decides when). Each key is held as bytes whose order is the key's order.
// A row's JSON is held once: in its segment's rendered text, which is also what the cache is
// given; the segment keeps where each row lies in it, and a batch's changes until the next render.
// At a million rows of 600 bytes that is the 600 MB of text and about 40 bytes a row besides.
// A full read can be fed in runs (start, append, finish), so that its rows need not all be held
// at once before they are placed.
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
        filling_ = nullptr;
        filling_text_.clear();
        late_.clear();
        valid_ = false;
    }
    // After a full read: every row, in any order, keyed as `order` says (not None). Invalid if a
    // key is not of that kind. Every segment is new afterwards, so a resync rewrites the whole
    // list. The same as start(order), append(rows), finish().
    void replace(const std::vector<Row>& rows, KeyOrder order);
    // A full read in runs: start() forgets every row; append() places a run (rows in list order
    // are appended to the last segment as they come, any other is placed as a batch's change);
    // finish() closes the last segment. Invalid from the first key not of `order`'s kind.
    void start(KeyOrder order);
    void append(const std::vector<Row>& rows);
    void finish();
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
    struct Entry {
        std::string key;                 // the row's sort key
        std::uint32_t at = 0, size = 0;  // where its JSON is in the segment's text
    };
    struct Segment {
        std::vector<Entry> rows;  // in key order, as rendered
        // The changes since the text was rendered: a row's new JSON, or nullopt: it is gone.
        std::map<std::string, std::optional<std::string>> edits;
        std::size_t bytes = 0;  // rows plus a 2-byte separator each, edits included
        bool first = false;     // where it was rendered: the text starts with '[' / ends with ']'
        bool last = false;
        ListSegment rendered;
    };
    using Segments = std::map<std::string, Segment>;  // by the lowest sort key each may hold
    // A row as it is now; `json` points into a segment's text or edits.
    struct Item {
        std::string key;
        std::string_view json;
    };
    // What items point into while segments are rendered anew.
    struct Hold {
        std::vector<std::shared_ptr<const std::string>> texts;
        std::vector<std::map<std::string, std::optional<std::string>>> edits;
    };

    Segments::iterator segment_for(const std::string& key);
    // The row's JSON in `s` now (its edit, else its text); nullopt when `s` does not hold it.
    static std::optional<std::string_view> current(const Segment& s, const std::string& key);
    // Calls `fn(key, json)` for each row `s` holds now, in key order.
    template <class Fn>
    static void each_row(const Segment& s, Fn&& fn);
    // The rows of `s` now, pointing into what `hold` keeps, which `s` no longer owns.
    static std::vector<Item> take(Segment& s, Hold& hold);
    void put(const std::string& key, const std::string& json);
    void erase(const std::string& key);
    // Renders the changed segments, merging a small one with its small neighbour and halving one
    // over the limit until it fits (a single row larger than the limit stays alone); then makes
    // the first and last segments start and end the array.
    void rebalance();
    void render(Segment& s, std::vector<Item>::iterator from, std::vector<Item>::iterator to,
                bool first, bool last);
    void seal(bool last);

    std::size_t segment_bytes_;
    std::uint64_t& versions_;
    Segments segments_;
    ListSegment empty_;
    KeyOrder order_ = KeyOrder::None;
    bool valid_ = false;
    // While a full read is appended: the segment being filled, its text, and the rows that came
    // out of order (placed at finish()).
    Segment* filling_ = nullptr;
    std::string filling_text_;
    std::vector<Row> late_;
};

}  // namespace revalidator::worker
