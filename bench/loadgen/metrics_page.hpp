// The worker's own account of a run, read from its Prometheus page (GET /metrics on the admin
// port): events received, list rebuilds, batches, pending keys. value() sums the series of a
// family that have the labels it names, whatever others they have: a bare name sums them all, and
// name{kind="wrong"} sums that kind over every collection; histogram families are read through
// their _sum and _count series.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loadgen {

class MetricsPage {
  public:
    // Parses the Prometheus text exposition format.
    explicit MetricsPage(std::string_view text);
    // GETs `url` (http://host:port/metrics); throws std::runtime_error when it cannot.
    static MetricsPage fetch(const std::string& url);

    // nullopt when no series matches.
    std::optional<double> value(const std::string& query) const;

    struct Series {
        std::string name;
        std::map<std::string, std::string> labels;
    };

  private:
    std::vector<std::pair<Series, double>> series_;
};

}  // namespace loadgen
