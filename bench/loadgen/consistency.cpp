#include "consistency.hpp"

#include <chrono>
#include <thread>

namespace loadgen {

Divergence compare(const Truth::Snapshot& truth, CacheView& cache, const std::string& prefix,
                   bool list) {
    Divergence d;
    d.rows = truth.rows.size();
    d.list_bytes = truth.list.size();
    std::vector<std::string> keys;
    keys.reserve(truth.rows.size());
    for (const auto& [id, _] : truth.rows) keys.push_back(prefix + "/" + id);
    auto cached = cache.get_many(keys);
    for (std::size_t i = 0; i < keys.size(); ++i) {
        auto it = cached.find(keys[i]);
        if (it != cached.end() && it->second == truth.rows[i].second) continue;
        ++d.items_divergent;
        if (d.examples.size() < 5) d.examples.push_back(keys[i]);
    }
    auto cached_list = cache.list(prefix);
    d.list_equal = list ? cached_list && *cached_list == truth.list : !cached_list;
    if (!d.list_equal && d.examples.size() < 5) d.examples.push_back(prefix);
    return d;
}

Divergence wait_consistent(Truth& truth, CacheView& cache, const std::string& prefix,
                           double timeout_s, bool list) {
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(timeout_s));
    while (true) {
        Divergence d = compare(truth.snapshot(), cache, prefix, list);
        if (d.keys_divergent() == 0 || std::chrono::steady_clock::now() >= deadline) return d;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

nlohmann::json to_json(const Divergence& d) {
    return {{"rows", d.rows},
            {"items_divergent", d.items_divergent},
            {"list_equal", d.list_equal},
            {"list_bytes", d.list_bytes},
            {"keys_divergent", d.keys_divergent()},
            {"examples", d.examples}};
}

}  // namespace loadgen
