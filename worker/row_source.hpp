// Where the truth comes from. The worker asks for rows by primary key, and for what the list needs
// (list/list.hpp), both from one consistent snapshot; the Postgres adapter (pg_source) is the real
// one, tests use fakes. A source returns rows only: the list module keeps and renders the list.
// Failures to reach the source are unexpected and thrown; the worker loop retries with backoff.
// A full read can be handed over in runs (read_full), so that a table of a million rows is never
// held whole: the applier writes each run's keys as it comes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

namespace revalidator::worker {

struct Row {
    std::string pk;    // primary key as text
    std::string json;  // to_jsonb(row)::text
};

// How the list is ordered when it is by the primary key alone and the worker can compute that
// order itself: an integer key's numeric order, or a uuid's (Postgres compares uuids as their 16
// bytes, which is the byte order of their canonical text). Then a row's key is its position in
// the list, and the list can follow the rows a batch names (list/list.hpp).
enum class KeyOrder { None, Integer, Uuid };

// What a read that is not full returns for the list besides the rows asked for.
enum class ListRows {
    Changes,  // nothing more: the list follows the rows asked for
    All,      // every row, in list order (Snapshot::listed)
};

struct Snapshot {
    std::vector<Row> rows;  // the rows asked for that exist (all rows, in list order, when full)
    // Unless full: each pk asked for, in order, as the key type spells it (an integer key: "007"
    // and "+7" are "7"; a uuid in lower case), so that it equals the pk of the row it names. A pk
    // no value of the type has is left as given; no row has it.
    std::vector<std::string> asked;
    // With ListRows::All, unless full: every row, in list order.
    std::vector<Row> listed;
    KeyOrder key_order = KeyOrder::None;
    // Each configured view's rows (collection.hpp), in its order, from the same snapshot: read
    // with every batch. Empty when the source serves no views.
    std::vector<std::vector<Row>> views;
};

// Takes one run of a full read: rows in list order, and how the list is ordered. It may take the
// rows' contents, and may throw (a write fenced off): the read then ends there.
using RowRun = std::function<void(std::vector<Row>& rows, KeyOrder order)>;

class RowSource {
  public:
    virtual ~RowSource() = default;
    // `pks` may be empty (list only). With `full`, every row is returned, in list order, and
    // `pks` and `list` are ignored. Ids are compared as the key type compares them
    // (Snapshot::asked).
    virtual Snapshot read(const std::vector<std::string>& pks, bool full, ListRows list) = 0;
    // A full read handed to `run` in runs of at most `run_rows` rows, in list order, every run
    // and the returned Snapshot's views from one snapshot; the Snapshot's rows are empty. The
    // default reads in full and hands the rows over in runs; the Postgres adapter reads a run at
    // a time.
    virtual Snapshot read_full(std::size_t run_rows, const RowRun& run) {
        Snapshot s = read({}, true, ListRows::Changes);
        const std::size_t step = std::max<std::size_t>(run_rows, 1);
        std::vector<Row> rows;
        for (std::size_t i = 0; i < s.rows.size(); i += step) {
            auto from = s.rows.begin() + static_cast<std::ptrdiff_t>(i);
            auto to =
                s.rows.begin() + static_cast<std::ptrdiff_t>(std::min(i + step, s.rows.size()));
            rows.assign(std::make_move_iterator(from), std::make_move_iterator(to));
            run(rows, s.key_order);
        }
        s.rows.clear();
        return s;
    }
};

}  // namespace revalidator::worker
