// What a run's outcomes add up to: answers by status, every failure by kind (a non-2xx answer
// counts as the kind "status_NNN"), and the latency of every answer. Each engine thread keeps its
// own Tally; they are merged once the threads are done.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_load.hpp"

namespace loadgen {

struct Tally {
    std::vector<double> latency_s;  // every answer, from the intended send time to the answer
    std::map<int, std::uint64_t> statuses;
    std::map<std::string, std::uint64_t> errors;
    std::uint64_t ok = 0;          // 2xx answers (and 304 when not_modified_ok)
    bool not_modified_ok = false;  // a read that revalidates expects 304

    void add(const Outcome& o);
    void add_errors(const std::string& kind, std::uint64_t n);  // failures seen outside Outcomes
    void merge(Tally&& other);
    std::uint64_t error_total() const;
    nlohmann::json statuses_json() const;
    std::string errors_text() const;  // "none" or "timeout 3, status_503 12"
};

}  // namespace loadgen
