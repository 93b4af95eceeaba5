// Where the truth comes from. The worker asks for rows by primary key and for the list, both from
// one consistent snapshot; the Postgres adapter (pg_source) is the real one, tests use fakes.
// Failures to reach the source are unexpected and thrown; the worker loop retries with backoff.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace revalidator::worker {

struct Row {
    std::string pk;    // primary key as text
    std::string json;  // to_jsonb(row)::text
};

// A piece of the list: whole rows in list order. Concatenated in order, the segments are the
// list's JSON text. `version` names this exact text and is never reused for another, so a writer
// can skip a segment it has already written: the cost of a batch follows what changed.
struct ListSegment {
    std::uint64_t version = 0;
    std::shared_ptr<const std::string> text;
};

struct Snapshot {
    std::vector<Row> rows;          // the rows asked for that exist (all rows, in order, when full)
    std::vector<ListSegment> list;  // the whole list as a JSON array, in the configured order
    // Unless full: each pk asked for, in order, as the key type spells it (an integer key: "007"
    // and "+7" are "7"), so that it equals the pk of the row it names. A pk no value of the type
    // has is left as given; no row has it.
    std::vector<std::string> asked;
};

class RowSource {
  public:
    virtual ~RowSource() = default;
    // `pks` may be empty (list only). With `full`, every row is returned and `pks` is ignored.
    // Ids are compared as the key type compares them (Snapshot::asked).
    virtual Snapshot read(const std::vector<std::string>& pks, bool full) = 0;
};

}  // namespace revalidator::worker
