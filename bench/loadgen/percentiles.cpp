#include "percentiles.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace loadgen {

Summary summarize(std::vector<double> samples) {
    Summary s;
    s.count = samples.size();
    if (samples.empty()) return s;
    std::sort(samples.begin(), samples.end());
    auto at = [&](double q) {
        auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size())));
        return samples[std::clamp<std::size_t>(rank, 1, samples.size()) - 1];
    };
    s.mean =
        std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
    s.p50 = at(0.50);
    s.p90 = at(0.90);
    s.p99 = at(0.99);
    s.p999 = at(0.999);
    s.max = samples.back();
    return s;
}

nlohmann::json to_json(const Summary& s, double scale) {
    nlohmann::json j = {{"count", s.count}};
    if (s.count == 0) return j;
    j["mean"] = s.mean * scale;
    j["p50"] = s.p50 * scale;
    j["p90"] = s.p90 * scale;
    j["p99"] = s.p99 * scale;
    j["p99.9"] = s.p999 * scale;
    j["max"] = s.max * scale;
    return j;
}

}  // namespace loadgen
