#include "list_layout.hpp"

#include <nlohmann/json.hpp>

namespace revalidator::worker {

std::string part_key(std::string_view prefix, std::uint64_t generation, std::size_t index) {
    return std::string(prefix) + ":part:" + std::to_string(generation) + ":" +
           std::to_string(index);
}

ListPlan plan_list(std::string_view prefix, std::string_view list, std::size_t max_item_bytes,
                   std::uint64_t generation) {
    ListPlan plan;
    if (max_item_bytes == 0 || list.size() <= max_item_bytes) {
        plan.head = std::string(list);
        return plan;
    }
    std::size_t n = (list.size() + max_item_bytes - 1) / max_item_bytes;
    for (std::size_t i = 0; i < n; ++i) {
        plan.parts.push_back(
            {part_key(prefix, generation, i), list.substr(i * max_item_bytes, max_item_bytes)});
    }
    plan.head =
        nlohmann::json{
            {"chunked", true}, {"generation", generation}, {"parts", n}, {"bytes", list.size()}}
            .dump();
    return plan;
}

}  // namespace revalidator::worker
