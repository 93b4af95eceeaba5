// Durations the cluster scenario measures (ack, read, staleness), split by when they began:
// during a fault or outside every fault, so that the report can tell a fault's cost from the
// steady state.
#pragma once

#include <chrono>
#include <mutex>
#include <utility>
#include <vector>

namespace revalidator::cluster {

using Clock = std::chrono::steady_clock;

// Durations in ms, each with the time it began (a request, a change).
class Samples {
  public:
    void add(Clock::time_point at, double ms);
    struct Split {
        std::vector<double> during, outside;
    };
    // `windows`: [start, end) of each fault.
    Split split(const std::vector<std::pair<Clock::time_point, Clock::time_point>>& windows) const;
    // Those that began in [from, to).
    std::vector<double> between(Clock::time_point from, Clock::time_point to) const;

  private:
    mutable std::mutex mu_;
    std::vector<std::pair<Clock::time_point, double>> samples_;
};

// The `p`th percentile (0-100) of `v` (sorted in place); 0 when empty.
double percentile(std::vector<double>& v, double p);

}  // namespace revalidator::cluster
