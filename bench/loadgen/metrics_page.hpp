// The worker's own account of a run, read from its Prometheus page (GET /metrics on the admin
// port): events received, list rebuilds, batches, pending keys. value() sums a family's series
// over their labels, or gives one series named with its labels (name{kind="wrong"}); histogram
// families are read through their _sum and _count series.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace loadgen {

class MetricsPage {
  public:
    // Parses the Prometheus text exposition format.
    explicit MetricsPage(std::string_view text);
    // GETs `url` (http://host:port/metrics); throws std::runtime_error when it cannot.
    static MetricsPage fetch(const std::string& url);

    std::optional<double> value(const std::string& name) const;

  private:
    std::unordered_map<std::string, double> values_;
};

}  // namespace loadgen
