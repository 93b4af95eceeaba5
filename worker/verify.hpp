// Verify (docs/operations.md, "Verifying the cache"): compares what the cache holds with what
// Postgres holds now, and writes nothing: every row's key, byte for byte, and the list with its
// version. For an operator after an incident or a restore, and for scripts (revalidator-worker
// --verify exits 1 when something differs).
//
// A worker may be writing meanwhile, so a first difference is not yet a finding: what differs is
// compared again after `settle`, against Postgres read again, and only what still differs is
// reported. A row changed between the reads, or a write the worker was about to make, is not.
// With a KeyLister, the keys the cache holds under the prefix are listed too, and a key no row
// has (a deleted row's, another spelling of an id) is reported as extra.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "cache_sink.hpp"
#include "repair_sources.hpp"
#include "row_source.hpp"

namespace revalidator::worker {

struct VerifySettings {
    std::string prefix;                      // the table's cache prefix (shared/config/table.hpp)
    std::size_t max_item_bytes = 1'000'000;  // as the worker's --max-item-bytes
    std::chrono::milliseconds settle{1000};
    std::size_t max_examples = 10;
    bool list = true;  // Collection::list: without a list, none must be there
};

struct VerifyReport {
    // What a key (or the list) holds against what Postgres says it should.
    enum class Found { Equal, Wrong, Missing, Unreadable };

    std::size_t rows = 0;        // in Postgres
    std::size_t compared = 0;    // row keys compared with their rows
    std::size_t wrong = 0;       // other bytes than the row's
    std::size_t missing = 0;     // no value for a row that exists
    std::size_t unkeyable = 0;   // rows whose id cannot be a key: they have none to compare
    std::size_t unreadable = 0;  // keys the cache did not answer
    std::size_t extra = 0;       // keys under the prefix that no row has
    bool listed = false;         // whether the cache's keys could be listed (for `extra`)
    Found list = Found::Equal;
    std::vector<std::string> examples;  // the first differences: "wrong /articles/7"

    bool equal() const { return wrong == 0 && missing == 0 && extra == 0 && list == Found::Equal; }
    bool readable() const { return unreadable == 0 && list != Found::Unreadable; }
};

// Throws what the source throws (Postgres unreachable). `lister` may be null: extra keys are then
// not looked for.
VerifyReport verify(RowSource& source, CacheSink& cache, const VerifySettings& settings,
                    KeyLister* lister = nullptr);

// The report as printed: a summary line, then the examples, one per line.
std::string describe(const VerifyReport& report, const std::string& table);

}  // namespace revalidator::worker
