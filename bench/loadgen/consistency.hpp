// The full check: does the cache equal Postgres? Every "{prefix}/{id}" must hold exactly the
// row's to_jsonb text and "{prefix}" the jsonb_agg list (reassembled when chunked). The result
// counts divergent keys, the figure the e2e and worker modes report after a run. For a table kept
// without a list (the worker's --list=false), "{prefix}" must be absent instead.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cache_view.hpp"
#include "truth.hpp"

namespace loadgen {

struct Divergence {
    std::size_t rows = 0;             // rows in Postgres
    std::size_t items_divergent = 0;  // row keys missing or different
    bool list_equal = false;
    std::size_t list_bytes = 0;         // of the list in Postgres
    std::vector<std::string> examples;  // a few keys that differ

    std::size_t keys_divergent() const { return items_divergent + (list_equal ? 0 : 1); }
};

Divergence compare(const Truth::Snapshot& truth, CacheView& cache, const std::string& prefix,
                   bool list = true);

// Takes snapshots and compares until nothing diverges or `timeout_s` passes; the last result.
Divergence wait_consistent(Truth& truth, CacheView& cache, const std::string& prefix,
                           double timeout_s, bool list = true);

nlohmann::json to_json(const Divergence& d);

}  // namespace loadgen
