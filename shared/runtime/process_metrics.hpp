// The series every process exports about itself, under the names Prometheus' client libraries
// give them (process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds,
// process_max_fds, process_start_time_seconds), and revalidator_build_info{version,commit} 1.
// Values come from Linux's /proc, read when scraped; a file that cannot be read or parsed makes
// its series NaN rather than a plausible wrong number. The parsers take the files' text, so tests
// give them samples; only add_process_metrics reads /proc.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "metrics.hpp"

namespace revalidator::metrics {

// What /proc/self/stat says of the process, in clock ticks (sysconf(_SC_CLK_TCK)): user and
// system CPU time, and the start time counted from boot.
struct ProcStat {
    std::uint64_t utime = 0;
    std::uint64_t stime = 0;
    std::uint64_t starttime = 0;
};
// The fields of a /proc/[pid]/stat line; the command name may hold spaces and parentheses.
std::optional<ProcStat> parse_proc_stat(std::string_view text);
// The resident set of a /proc/[pid]/statm line, in pages.
std::optional<std::uint64_t> parse_statm_resident_pages(std::string_view text);
// The boot time of /proc/stat's `btime` line, in unix seconds.
std::optional<std::uint64_t> parse_boot_time(std::string_view text);

double cpu_seconds(const ProcStat& stat, long ticks_per_second);
double start_time_seconds(const ProcStat& stat, std::uint64_t boot_time, long ticks_per_second);

// Registers the series above in `registry`. Once per process, on the registry its /metrics
// renders.
void add_process_metrics(Registry& registry);

}  // namespace revalidator::metrics
