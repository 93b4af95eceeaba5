#include "list/segments.hpp"

#include <charconv>
#include <iterator>
#include <optional>
#include <unordered_set>

namespace revalidator::worker {

namespace {

// Only Postgres' own spelling (pk::text) of an integer: "007" is not row 7's pk, and an id
// spelled so matched no row by text, which says nothing about row 7.
std::optional<std::int64_t> integer(const std::string& s) {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    if (std::to_string(v) != s) return std::nullopt;
    return v;
}

// Only Postgres' own spelling of a uuid: lower case, hyphens at 8, 13, 18 and 23.
bool canonical_uuid(const std::string& s) {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

// Bytes whose order is the key's: an integer as 8 big-endian bytes with the sign bit flipped (so
// that negative numbers come first), a uuid as its canonical text (hex digits in ASCII order are
// the bytes' order). nullopt for a pk that is not of the kind, as Postgres spells it.
std::optional<std::string> sort_key(KeyOrder order, const std::string& pk) {
    if (order == KeyOrder::Uuid) {
        if (!canonical_uuid(pk)) return std::nullopt;
        return pk;
    }
    auto v = integer(pk);
    if (order != KeyOrder::Integer || !v) return std::nullopt;
    std::uint64_t u = static_cast<std::uint64_t>(*v) ^ (std::uint64_t{1} << 63);
    std::string key(8, '\0');
    for (int i = 7; i >= 0; --i) {
        key[static_cast<std::size_t>(i)] = static_cast<char>(u & 0xff);
        u >>= 8;
    }
    return key;
}

// The pk a sort key was made from.
std::string pk_of(KeyOrder order, const std::string& key) {
    if (order == KeyOrder::Uuid) return key;
    std::uint64_t u = 0;
    for (char c : key) u = (u << 8) | static_cast<unsigned char>(c);
    return std::to_string(static_cast<std::int64_t>(u ^ (std::uint64_t{1} << 63)));
}

}  // namespace

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

// Segments are filled to three quarters, so that rows can grow or arrive before one must split.
void ListSegments::replace(const std::vector<Row>& rows, KeyOrder order) {
    segments_.clear();
    valid_ = false;
    order_ = order;
    std::map<std::string, std::string> sorted;
    for (const auto& row : rows) {
        auto key = sort_key(order_, row.pk);
        if (!key) return;
        sorted[std::move(*key)] = row.json;
    }
    valid_ = true;
    const std::size_t fill = segment_bytes_ / 4 * 3;
    Segment* current = nullptr;
    for (auto& [key, json] : sorted) {
        if (!current || (current->bytes + json.size() + 2 > fill && !current->rows.empty())) {
            current = &segments_[key];
        }
        current->bytes += json.size() + 2;
        current->rows.emplace_hint(current->rows.end(), key, std::move(json));
    }
}

std::vector<std::pair<std::string, std::string_view>> ListSegments::rows_between(
    const std::optional<std::string>& after, const std::optional<std::string>& through) const {
    std::optional<std::string> lo, hi;
    if (after && !(lo = sort_key(order_, *after))) return {};
    if (through && !(hi = sort_key(order_, *through))) return {};
    std::vector<std::pair<std::string, std::string_view>> out;
    for (const auto& [_, s] : segments_) {
        for (auto it = lo ? s.rows.upper_bound(*lo) : s.rows.begin();
             it != s.rows.end() && (!hi || it->first <= *hi); ++it) {
            out.emplace_back(pk_of(order_, it->first), it->second);
        }
    }
    return out;
}

void ListSegments::apply(const std::vector<std::string>& pks, const std::vector<Row>& found) {
    std::unordered_set<std::string_view> present;
    for (const auto& row : found) {
        present.insert(row.pk);
        auto key = sort_key(order_, row.pk);
        if (!key) {
            valid_ = false;
            segments_.clear();
            return;
        }
        put(*key, row.json);
    }
    for (const auto& pk : pks) {
        if (present.count(pk)) continue;
        auto key = sort_key(order_, pk);
        if (!key) continue;  // cannot be a row of this table
        erase(*key);
    }
}

ListSegments::Segments::iterator ListSegments::segment_for(const std::string& key) {
    if (segments_.empty()) return segments_.try_emplace(key).first;
    auto it = segments_.upper_bound(key);
    if (it != segments_.begin()) return std::prev(it);
    // Below every segment: the first one now starts here.
    auto node = segments_.extract(it);
    node.key() = key;
    return segments_.insert(std::move(node)).position;
}

void ListSegments::put(const std::string& key, const std::string& json) {
    Segment& s = segment_for(key)->second;
    auto [row, inserted] = s.rows.try_emplace(key);
    if (!inserted) {
        if (row->second == json) return;
        s.bytes -= row->second.size() + 2;
    }
    row->second = json;
    s.bytes += json.size() + 2;
    s.dirty = true;
}

void ListSegments::erase(const std::string& key) {
    auto it = segments_.upper_bound(key);
    if (it == segments_.begin()) return;
    Segment& s = std::prev(it)->second;
    auto row = s.rows.find(key);
    if (row == s.rows.end()) return;
    s.bytes -= row->second.size() + 2;
    s.rows.erase(row);
    s.dirty = true;
}

// Changed segments only: an empty one goes, a small one takes in its small neighbour, and one
// over the limit is halved until it fits (a single row larger than the limit stays alone).
void ListSegments::rebalance() {
    for (auto it = segments_.begin(); it != segments_.end();) {
        Segment& s = it->second;
        if (!s.dirty) {
            ++it;
            continue;
        }
        if (s.rows.empty()) {
            it = segments_.erase(it);
            continue;
        }
        auto next = std::next(it);
        if (next != segments_.end() && s.bytes + next->second.bytes <= segment_bytes_ / 2) {
            s.rows.merge(next->second.rows);
            s.bytes += next->second.bytes;
            segments_.erase(next);
            continue;
        }
        if (s.bytes + 1 > segment_bytes_ && s.rows.size() > 1) {
            std::size_t kept = 0;
            auto cut = s.rows.begin();
            do {
                kept += cut->second.size() + 2;
                ++cut;
            } while (cut != s.rows.end() && kept + cut->second.size() + 2 <= s.bytes / 2);
            Segment upper;
            upper.bytes = s.bytes - kept;
            upper.rows.insert(std::make_move_iterator(cut), std::make_move_iterator(s.rows.end()));
            s.rows.erase(cut, s.rows.end());
            s.bytes = kept;
            segments_.emplace_hint(next, upper.rows.begin()->first, std::move(upper));
            continue;
        }
        ++it;
    }
}

void ListSegments::render(Segment& s, bool first, bool last) {
    auto text = std::make_shared<std::string>();
    text->reserve(s.bytes + 2);
    *text += first ? "[" : ", ";
    bool sep = false;
    for (const auto& [_, json] : s.rows) {
        if (sep) *text += ", ";
        *text += json;
        sep = true;
    }
    if (last) *text += ']';
    s.rendered = {++versions_, std::move(text)};
    s.dirty = false;
    s.first = first;
    s.last = last;
}

std::vector<ListSegment> ListSegments::segments() {
    rebalance();
    if (segments_.empty()) {
        if (!empty_.text) empty_ = {++versions_, std::make_shared<const std::string>("[]")};
        return {empty_};
    }
    empty_ = {};
    std::vector<ListSegment> out;
    out.reserve(segments_.size());
    for (auto it = segments_.begin(); it != segments_.end(); ++it) {
        const bool first = it == segments_.begin();
        const bool last = std::next(it) == segments_.end();
        Segment& s = it->second;
        if (s.dirty || s.first != first || s.last != last) render(s, first, last);
        out.push_back(s.rendered);
    }
    return out;
}

}  // namespace revalidator::worker
