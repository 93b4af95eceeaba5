// Consistency as nines: the share of changes visible in the cache within 10 ms, 100 ms, 1 s and
// 5 s of their commit, as `loadgen e2e` (bench/nines) and the cluster scenario (scripts/cluster)
// print it beside the goals of docs/performance.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace loadgen {

// The bounds, in ms.
inline constexpr double kVisibleWithinMs[] = {10, 100, 1000, 5000};

// The share of `ms` at most `bound`, in percent; 0 when empty. A change never seen is infinity.
double share_within(const std::vector<double>& ms, double bound);
// A share as nines, with one decimal past them, truncated, never rounded up: "99.97 %",
// "99.996 %", "99.99998 %"; only all of them is "100 %".
std::string percent(double share);
// "99.97 % within 10 ms, 100 % within 100 ms, ... (n changes)".
std::string nines(const std::vector<double>& ms);

// A time of Postgres' clock (clock_timestamp(), microseconds since the epoch, read on this
// machine) on the steady clock that the reads of the cache are timed with.
std::chrono::steady_clock::time_point steady_from_unix_us(std::int64_t unix_us);

}  // namespace loadgen
