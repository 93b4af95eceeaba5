#include "list/layout.hpp"

#include <algorithm>
#include <charconv>
#include <unordered_set>

#include "cache/manifest.hpp"

namespace revalidator::worker {

std::string part_key(std::string_view prefix, std::uint64_t generation, std::size_t index) {
    return std::string(prefix) + ":part:" + std::to_string(generation) + ":" +
           std::to_string(index);
}

ListLayout::ListLayout(std::string prefix, std::size_t max_item_bytes, std::uint64_t generation)
    : prefix_(std::move(prefix)), max_item_bytes_(max_item_bytes), generation_(generation) {}

ListPlan ListLayout::plan(const std::vector<ListSegment>& list,
                          const std::function<bool(const std::string&)>& still_cached) {
    ListPlan plan;
    planned_.clear();
    std::size_t bytes = 0;
    for (const auto& s : list) bytes += s.text->size();
    if (max_item_bytes_ != 0 && bytes > max_item_bytes_) {
        std::vector<std::string> keys;
        for (const auto& s : list) {
            auto& parts = planned_[s.version];
            auto had = named_.find(s.version);
            if (had != named_.end() &&
                std::all_of(had->second.begin(), had->second.end(),
                            [&](const auto& k) { return still_cached(k); })) {
                parts = had->second;
            } else {
                const std::string_view text = *s.text;
                const std::uint64_t g = ++generation_;
                for (std::size_t at = 0, i = 0; at < text.size(); at += max_item_bytes_, ++i) {
                    parts.push_back(part_key(prefix_, g, i));
                    plan.parts.push_back({parts.back(), text.substr(at, max_item_bytes_)});
                }
            }
            for (const auto& k : parts) keys.push_back(k);
        }
        plan.head = manifest::encode(bytes, keys);
    } else {
        plan.head.reserve(bytes);
        for (const auto& s : list) plan.head += *s.text;
    }
    for (const auto& [version, parts] : named_) {
        if (planned_.count(version) && planned_[version] == parts) continue;
        plan.obsolete.insert(plan.obsolete.end(), parts.begin(), parts.end());
    }
    // An adopted key this layout knows is one of its own parts, read back from its own manifest
    // (the applier re-reads the cache after an outage): reused, or obsolete already above.
    if (!adopted_.empty()) {
        std::unordered_set<std::string_view> own;
        for (const auto& [_, parts] : named_) own.insert(parts.begin(), parts.end());
        for (const auto& [_, parts] : planned_) own.insert(parts.begin(), parts.end());
        for (const auto& key : adopted_) {
            if (!own.count(key)) plan.obsolete.push_back(key);
        }
    }
    return plan;
}

std::optional<std::vector<CacheItem>> ListLayout::written_parts(
    const std::vector<ListSegment>& list) const {
    std::vector<CacheItem> parts;
    std::size_t bytes = 0;
    for (const auto& s : list) bytes += s.text->size();
    if (max_item_bytes_ == 0 || bytes <= max_item_bytes_) return parts;
    for (const auto& s : list) {
        auto named = named_.find(s.version);
        if (named == named_.end()) return std::nullopt;
        const std::string_view text = *s.text;
        std::size_t at = 0;
        for (const auto& key : named->second) {
            if (at >= text.size()) return std::nullopt;
            parts.push_back({key, text.substr(at, max_item_bytes_)});
            at += max_item_bytes_;
        }
        if (at < text.size()) return std::nullopt;
    }
    return parts;
}

std::optional<ListPlan> ListLayout::written(const std::vector<ListSegment>& list) const {
    auto parts = written_parts(list);
    if (!parts) return std::nullopt;
    std::size_t bytes = 0;
    for (const auto& s : list) bytes += s.text->size();
    ListPlan out;
    if (parts->empty()) {
        out.head.reserve(bytes);
        for (const auto& s : list) out.head += *s.text;
        return out;
    }
    std::vector<std::string> keys;
    keys.reserve(parts->size());
    for (const auto& part : *parts) keys.push_back(part.key);
    out.head = manifest::encode(bytes, keys);
    out.parts = std::move(*parts);
    return out;
}

void ListLayout::distrust() {
    for (auto& [_, parts] : named_) {
        adopted_.insert(adopted_.end(), parts.begin(), parts.end());
    }
    named_.clear();
}

void ListLayout::distrust_part(std::string_view part_key) {
    for (auto it = named_.begin(); it != named_.end(); ++it) {
        if (std::find(it->second.begin(), it->second.end(), part_key) == it->second.end()) continue;
        adopted_.insert(adopted_.end(), it->second.begin(), it->second.end());
        named_.erase(it);
        return;
    }
}

void ListLayout::committed() {
    named_ = std::move(planned_);
    planned_.clear();
    adopted_.clear();
}

void ListLayout::adopt(const std::vector<std::string>& part_keys) {
    const std::string stem = prefix_ + ":part:";
    for (const auto& key : part_keys) {
        if (key.rfind(stem, 0) != 0) continue;  // not one of ours: never delete it
        adopted_.push_back(key);
        std::uint64_t g = 0;
        const char* at = key.data() + stem.size();
        std::from_chars(at, key.data() + key.size(), g);
        generation_ = std::max(generation_, g);
    }
}

}  // namespace revalidator::worker
