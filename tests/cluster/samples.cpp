#include "samples.hpp"

#include <algorithm>

namespace revalidator::cluster {

void Samples::add(Clock::time_point at, double ms) {
    std::lock_guard lock(mu_);
    samples_.emplace_back(at, ms);
}

Samples::Split Samples::split(
    const std::vector<std::pair<Clock::time_point, Clock::time_point>>& windows) const {
    std::lock_guard lock(mu_);
    Split out;
    for (const auto& [at, ms] : samples_) {
        const bool during = std::any_of(windows.begin(), windows.end(), [&](const auto& w) {
            return at >= w.first && at < w.second;
        });
        (during ? out.during : out.outside).push_back(ms);
    }
    return out;
}

std::vector<double> Samples::between(Clock::time_point from, Clock::time_point to) const {
    std::lock_guard lock(mu_);
    std::vector<double> out;
    for (const auto& [at, ms] : samples_) {
        if (at >= from && at < to) out.push_back(ms);
    }
    return out;
}

double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(rank, v.size() - 1)];
}

}  // namespace revalidator::cluster
