// The list, kept in the worker's memory in list order, so that a batch re-reads only the rows it
// names instead of aggregating the whole table again: at 100k rows that query costs more than a
// second, while applying a batch's rows here costs what changed plus one copy of the text.
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
    bool valid() const { return valid_; }
    // After a full read: every row, in any order. Invalid if a key is not an integer.
    void replace(const std::vector<Row>& rows);
    // After a batch read: `found` replace their rows; `pks` without a found row are removed.
    void apply(const std::vector<std::string>& pks, const std::vector<Row>& found);
    std::string render() const;

  private:
    std::map<std::int64_t, std::string> rows_;
    bool valid_ = false;
};

}  // namespace revalidator::worker
