#include "nines.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace loadgen {

double share_within(const std::vector<double>& ms, double bound) {
    if (ms.empty()) return 0;
    const auto n = std::count_if(ms.begin(), ms.end(), [&](double v) { return v <= bound; });
    return 100.0 * static_cast<double>(n) / static_cast<double>(ms.size());
}

std::string percent(double share) {
    if (share >= 100) return "100 %";
    // One decimal past the nines, at least two: 99.97, 99.996, 99.99998. Truncated (the epsilon
    // only absorbs the binary fraction's error: 9999 of 10000 is 99.99, not 99.98).
    const double missing = 100 - share;
    const int decimals = std::clamp(static_cast<int>(std::floor(-std::log10(missing))) + 1, 2, 9);
    const double scale = std::pow(10, decimals);
    char text[32];
    std::snprintf(text, sizeof text, "%.*f %%", decimals, std::floor(share * scale + 1e-6) / scale);
    return text;
}

std::string nines(const std::vector<double>& ms) {
    if (ms.empty()) return "no changes";
    std::string out;
    for (const double bound : kVisibleWithinMs) {
        if (!out.empty()) out += ", ";
        out += percent(share_within(ms, bound)) + " within " +
               (bound < 1000 ? std::to_string(static_cast<int>(bound)) + " ms"
                             : std::to_string(static_cast<int>(bound / 1000)) + " s");
    }
    return out + " (" + std::to_string(ms.size()) + " changes)";
}

std::chrono::steady_clock::time_point steady_from_unix_us(std::int64_t unix_us) {
    using namespace std::chrono;
    const auto wall_now = system_clock::now();
    const auto steady_now = steady_clock::now();
    return steady_now - duration_cast<steady_clock::duration>(
                            wall_now - system_clock::time_point(microseconds(unix_us)));
}

}  // namespace loadgen
