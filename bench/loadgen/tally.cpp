#include "tally.hpp"

#include <chrono>

#include "format.hpp"

namespace loadgen {

void Tally::add(const Outcome& o) {
    if (o.failure != Failure::None) {
        ++errors[to_string(o.failure)];
        return;
    }
    latency_s.push_back(std::chrono::duration<double>(o.done - o.intended).count());
    ++statuses[o.status];
    if (o.status / 100 == 2 || (not_modified_ok && o.status == 304)) {
        ++ok;
    } else {
        ++errors["status_" + std::to_string(o.status)];
    }
}

void Tally::add_errors(const std::string& kind, std::uint64_t n) {
    if (n) errors[kind] += n;
}

void Tally::merge(Tally&& other) {
    latency_s.insert(latency_s.end(), other.latency_s.begin(), other.latency_s.end());
    for (const auto& [s, n] : other.statuses) statuses[s] += n;
    for (const auto& [k, n] : other.errors) errors[k] += n;
    ok += other.ok;
}

std::uint64_t Tally::error_total() const {
    std::uint64_t n = 0;
    for (const auto& [_, c] : errors) n += c;
    return n;
}

nlohmann::json Tally::statuses_json() const {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [s, n] : statuses) j[std::to_string(s)] = n;
    return j;
}

std::string Tally::errors_text() const {
    if (errors.empty()) return "none";
    std::string out;
    for (const auto& [k, n] : errors) out += (out.empty() ? "" : ", ") + k + " " + thousands(n);
    return out;
}

}  // namespace loadgen
