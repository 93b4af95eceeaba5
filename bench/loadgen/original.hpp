// The algorithm revalidator replaces, as the original Cloudflare Worker ran it: for every event,
// read the row and write its key, then re-read the whole list and write it. It runs in-process
// with one connection each to Postgres and Memcached (the Worker also paid an HTTP round trip
// per call), under its own key prefix so that the real cache is left alone. A list over the item
// limit is written as parts plus a manifest, since Memcached refuses it whole.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cache_view.hpp"
#include "truth.hpp"

namespace loadgen {

struct OriginalLimits {
    std::uint64_t max_events = 200;
    double max_seconds = 20;
    std::size_t max_item_bytes = 1'000'000;
};

struct OriginalResult {
    std::uint64_t events = 0;
    double seconds = 0;
    std::size_t list_bytes = 0;
    std::uint64_t write_errors = 0;
};

// Applies events for ids drawn at random from `ids` until a limit is reached.
OriginalResult run_original(Truth& truth, CacheView& cache, const std::string& prefix,
                            const std::vector<std::string>& ids, const OriginalLimits& limits,
                            std::uint64_t seed);

}  // namespace loadgen
