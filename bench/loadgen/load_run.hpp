// The closed- (or open-) loop measurement the `ack` and `read` modes share: T threads, each an
// Engine over its share of the connections and a CyclingFeed over a pool of pre-built requests;
// a warm-up that is not counted, then the measured run, then the threads' tallies merged.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tally.hpp"
#include "url.hpp"

namespace loadgen {

struct LoadSpec {
    Url url;
    int connections = 32;
    int threads = 1;  // clamped to 1..connections
    double duration_s = 10;
    double warmup_s = 1;
    std::uint64_t max_requests = 10'000'000;
    double rate = 0;  // requests per second over all threads; 0: closed loop
    int timeout_ms = 1000;
};

struct LoadResult {
    Tally all;
    double rps = 0;      // answers counted ok per second, summed over the threads
    double seconds = 0;  // the longest thread's measured time
    std::uint64_t sent = 0;
    int threads = 1;
    double loadgen_cpu_cores = 0;
};

// The flags every load mode takes: -c, --threads, -d, --warmup, --timeout-ms (and -n, --rate with
// `schedule`), bound to `spec`'s fields.
void add_load_options(CLI::App& cmd, LoadSpec& spec, bool schedule);

// `pool(t)`: the requests thread t cycles through.
LoadResult run_load(const LoadSpec& spec, const std::function<std::vector<std::string>(int)>& pool,
                    bool not_modified_ok = false);

// Prints the figures for people and writes them, with `extra` merged in, as JSON to `json_path`
// (when not empty) for bench/run's report. Consumes the result's latencies.
void report_load(const std::string& mode, const std::string& server, const std::string& url,
                 const LoadSpec& spec, LoadResult& result, const std::string& json_path,
                 const nlohmann::json& extra);

}  // namespace loadgen
