#include "list_cache.hpp"

#include <charconv>
#include <optional>
#include <unordered_set>

namespace revalidator::worker {

namespace {

std::optional<std::int64_t> integer(const std::string& s) {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

}  // namespace

void ListCache::replace(const std::vector<Row>& rows) {
    rows_.clear();
    valid_ = true;
    for (const auto& row : rows) {
        auto key = integer(row.pk);
        if (!key) {
            valid_ = false;
            rows_.clear();
            return;
        }
        rows_[*key] = row.json;
    }
}

void ListCache::apply(const std::vector<std::string>& pks, const std::vector<Row>& found) {
    std::unordered_set<std::string_view> present;
    for (const auto& row : found) {
        present.insert(row.pk);
        auto key = integer(row.pk);
        if (!key) {
            valid_ = false;
            return;
        }
        rows_[*key] = row.json;
    }
    for (const auto& pk : pks) {
        if (present.count(pk)) continue;
        auto key = integer(pk);
        if (!key) continue;  // cannot be a row of an integer-keyed table
        rows_.erase(*key);
    }
}

std::string jsonb_array_text(const std::vector<std::string_view>& elements) {
    std::size_t bytes = 2;
    for (auto e : elements) bytes += e.size() + 2;
    std::string list;
    list.reserve(bytes);
    list += '[';
    for (std::size_t i = 0; i < elements.size(); ++i) {
        if (i) list += ", ";
        list += elements[i];
    }
    list += ']';
    return list;
}

std::string ListCache::render() const {
    std::vector<std::string_view> elements;
    elements.reserve(rows_.size());
    for (const auto& [_, json] : rows_) elements.push_back(json);
    return jsonb_array_text(elements);
}

}  // namespace revalidator::worker
