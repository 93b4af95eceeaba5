#include "original.hpp"

#include <chrono>
#include <random>

#include <nlohmann/json.hpp>

namespace loadgen {

namespace {

bool write_list(CacheView& cache, const std::string& prefix, const std::string& list,
                std::size_t max_item_bytes) {
    if (list.size() <= max_item_bytes) return cache.set(prefix, list);
    bool ok = true;
    nlohmann::json keys = nlohmann::json::array();
    for (std::size_t at = 0; at < list.size(); at += max_item_bytes) {
        keys.push_back(prefix + ":part:0:" + std::to_string(keys.size()));
        ok &= cache.set(keys.back(), list.substr(at, max_item_bytes));
    }
    nlohmann::json head = {{"chunked", true}, {"bytes", list.size()}, {"parts", keys}};
    return ok && cache.set(prefix, head.dump());
}

}  // namespace

OriginalResult run_original(Truth& truth, CacheView& cache, const std::string& prefix,
                            const std::vector<std::string>& ids, const OriginalLimits& limits,
                            std::uint64_t seed) {
    OriginalResult r;
    if (ids.empty()) return r;
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::size_t> pick(0, ids.size() - 1);
    auto start = std::chrono::steady_clock::now();
    auto elapsed = [&] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    while (r.events < limits.max_events && elapsed() < limits.max_seconds) {
        const std::string& id = ids[pick(rng)];
        std::string row = truth.row(id);
        std::string key = prefix + "/" + id;
        if (row.empty()) {
            cache.remove(key);
        } else if (!cache.set(key, row)) {
            ++r.write_errors;
        }
        std::string list = truth.list();
        r.list_bytes = list.size();
        if (!write_list(cache, prefix, list, limits.max_item_bytes)) ++r.write_errors;
        ++r.events;
    }
    r.seconds = elapsed();
    return r;
}

}  // namespace loadgen
