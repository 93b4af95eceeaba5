// Latency summaries computed exactly from every sample, sorted once at the end, rather than from
// a histogram: a bounded run keeps at most a few million samples (8 bytes each), and the p99.9
// and max comparisons between servers are only honest when nothing is rounded into buckets.
#pragma once

#include <cstddef>
#include <vector>

#include <nlohmann/json.hpp>

namespace loadgen {

struct Summary {
    std::size_t count = 0;
    double mean = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
};

// Nearest-rank percentiles: p(q) is the smallest sample with at least q of all samples <= it.
Summary summarize(std::vector<double> samples);

// {"count", "mean", "p50", "p90", "p99", "p99.9", "max"}, values multiplied by `scale` (e.g.
// 1e3 for seconds shown as milliseconds); only "count" when there are no samples.
nlohmann::json to_json(const Summary& s, double scale = 1);

}  // namespace loadgen
