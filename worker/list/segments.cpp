#include "list/segments.hpp"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <optional>
#include <tuple>
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

void ListSegments::replace(const std::vector<Row>& rows, KeyOrder order) {
    start(order);
    append(rows);
    finish();
}

void ListSegments::start(KeyOrder order) {
    clear();
    order_ = order;
    valid_ = true;
}

// Segments are filled to three quarters, so that rows can grow or arrive before one must split.
void ListSegments::append(const std::vector<Row>& rows) {
    if (!valid_) return;
    const std::size_t fill = segment_bytes_ / 4 * 3;
    for (const auto& row : rows) {
        auto key = sort_key(order_, row.pk);
        if (!key) {
            clear();
            return;
        }
        if (filling_ && *key <= filling_->rows.back().key) {
            late_.push_back(row);
            continue;
        }
        if (!filling_ || filling_->bytes + row.json.size() + 2 > fill) {
            if (filling_) seal(false);
            filling_ = &segments_[*key];
            filling_->first = segments_.size() == 1;
            filling_text_.reserve(fill + 3);
            filling_text_ += filling_->first ? "[" : ", ";
        } else {
            filling_text_ += ", ";
        }
        filling_->rows.push_back({std::move(*key), static_cast<std::uint32_t>(filling_text_.size()),
                                  static_cast<std::uint32_t>(row.json.size())});
        filling_text_ += row.json;
        filling_->bytes += row.json.size() + 2;
    }
}

void ListSegments::finish() {
    if (!valid_) return;
    if (filling_) seal(true);
    auto late = std::move(late_);
    late_.clear();
    for (const auto& row : late) put(*sort_key(order_, row.pk), row.json);
}

void ListSegments::seal(bool last) {
    if (last) filling_text_ += ']';
    filling_->last = last;
    filling_->rows.shrink_to_fit();
    filling_->rendered = {++versions_,
                          std::make_shared<const std::string>(std::move(filling_text_))};
    filling_text_ = {};
    filling_ = nullptr;
}

std::optional<std::string_view> ListSegments::current(const Segment& s, const std::string& key) {
    if (auto edit = s.edits.find(key); edit != s.edits.end()) {
        if (!edit->second) return std::nullopt;
        return std::string_view(*edit->second);
    }
    auto it = std::lower_bound(s.rows.begin(), s.rows.end(), key,
                               [](const Entry& e, const std::string& k) { return e.key < k; });
    if (it == s.rows.end() || it->key != key) return std::nullopt;
    return std::string_view(*s.rendered.text).substr(it->at, it->size);
}

template <class Fn>
void ListSegments::each_row(const Segment& s, Fn&& fn) {
    const std::string_view text = s.rendered.text ? *s.rendered.text : std::string_view();
    auto row = s.rows.begin();
    auto edit = s.edits.begin();
    while (row != s.rows.end() || edit != s.edits.end()) {
        if (edit == s.edits.end() || (row != s.rows.end() && row->key < edit->first)) {
            fn(row->key, text.substr(row->at, row->size));
            ++row;
            continue;
        }
        if (row != s.rows.end() && row->key == edit->first) ++row;
        if (edit->second) fn(edit->first, std::string_view(*edit->second));
        ++edit;
    }
}

std::vector<ListSegments::Item> ListSegments::take(Segment& s, Hold& hold) {
    std::vector<Item> items;
    items.reserve(s.rows.size() + s.edits.size());
    each_row(s, [&](const std::string& key, std::string_view json) {
        items.push_back({key, json});
    });
    if (s.rendered.text) hold.texts.push_back(std::move(s.rendered.text));
    hold.edits.push_back(std::move(s.edits));
    s.edits.clear();
    s.rows.clear();
    s.bytes = 0;
    return items;
}

std::vector<std::pair<std::string, std::string_view>> ListSegments::rows_between(
    const std::optional<std::string>& after, const std::optional<std::string>& through) const {
    std::optional<std::string> lo, hi;
    if (after && !(lo = sort_key(order_, *after))) return {};
    if (through && !(hi = sort_key(order_, *through))) return {};
    std::vector<std::pair<std::string, std::string_view>> out;
    auto add = [&](const std::string& key, std::string_view json) {
        out.emplace_back(pk_of(order_, key), json);
    };
    // Only the segments that can hold the range, searched: the pass asks for a few hundred rows
    // of a million many times a pass.
    auto it = lo ? segments_.upper_bound(*lo) : segments_.begin();
    if (lo && it != segments_.begin()) --it;
    for (; it != segments_.end() && (!hi || it->first <= *hi); ++it) {
        const Segment& s = it->second;
        if (!s.edits.empty()) {
            each_row(s, [&](const std::string& key, std::string_view json) {
                if ((!lo || key > *lo) && (!hi || key <= *hi)) add(key, json);
            });
            continue;
        }
        const std::string_view text = s.rendered.text ? *s.rendered.text : std::string_view();
        auto row =
            lo ? std::upper_bound(s.rows.begin(), s.rows.end(), *lo,
                                  [](const std::string& k, const Entry& e) { return k < e.key; })
               : s.rows.begin();
        for (; row != s.rows.end() && (!hi || row->key <= *hi); ++row) {
            add(row->key, text.substr(row->at, row->size));
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
            clear();
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
    auto now = current(s, key);
    if (now && *now == json) return;
    if (now) s.bytes -= now->size() + 2;
    s.bytes += json.size() + 2;
    s.edits.insert_or_assign(key, json);
}

void ListSegments::erase(const std::string& key) {
    auto it = segments_.upper_bound(key);
    if (it == segments_.begin()) return;
    Segment& s = std::prev(it)->second;
    auto now = current(s, key);
    if (!now) return;
    s.bytes -= now->size() + 2;
    s.edits.insert_or_assign(key, std::nullopt);
}

void ListSegments::rebalance() {
    Hold hold;  // what the rows being moved point into, until they are rendered
    for (auto it = segments_.begin(); it != segments_.end();) {
        Segment& s = it->second;
        if (s.edits.empty() && s.rendered.text) {
            ++it;
            continue;
        }
        std::size_t bytes = s.bytes;
        std::vector<Item> items = take(s, hold);
        if (items.empty()) {
            it = segments_.erase(it);
            continue;
        }
        auto next = std::next(it);
        while (next != segments_.end() && bytes + next->second.bytes <= segment_bytes_ / 2) {
            bytes += next->second.bytes;
            auto more = take(next->second, hold);
            items.insert(items.end(), std::make_move_iterator(more.begin()),
                         std::make_move_iterator(more.end()));
            next = segments_.erase(next);
        }
        // Halved until each piece fits, a piece of one row however large.
        std::vector<std::pair<std::size_t, std::size_t>> pieces;  // [from, to) of items
        std::vector<std::tuple<std::size_t, std::size_t, std::size_t>> todo{
            {0, items.size(), bytes}};
        while (!todo.empty()) {
            auto [from, to, size] = todo.back();
            todo.pop_back();
            if (size + 1 <= segment_bytes_ || to - from <= 1) {
                pieces.emplace_back(from, to);
                continue;
            }
            std::size_t kept = items[from].json.size() + 2, cut = from + 1;
            while (cut < to && kept + items[cut].json.size() + 2 <= size / 2) {
                kept += items[cut++].json.size() + 2;
            }
            todo.emplace_back(cut, to, size - kept);  // the upper half after the lower one
            todo.emplace_back(from, cut, kept);
        }
        const bool first = it == segments_.begin();
        for (std::size_t i = 0; i < pieces.size(); ++i) {
            auto [from, to] = pieces[i];
            Segment& piece = i == 0 ? s : segments_.try_emplace(next, items[from].key)->second;
            render(piece, items.begin() + static_cast<std::ptrdiff_t>(from),
                   items.begin() + static_cast<std::ptrdiff_t>(to), first && i == 0,
                   next == segments_.end() && i + 1 == pieces.size());
        }
        it = next;
    }
    if (segments_.empty()) return;
    // A segment that became the first or the last without a change of its own.
    for (auto it = segments_.begin(); it != segments_.end(); ++it) {
        Segment& s = it->second;
        const bool first = it == segments_.begin();
        const bool last = std::next(it) == segments_.end();
        if (s.first == first && s.last == last) continue;
        auto items = take(s, hold);
        render(s, items.begin(), items.end(), first, last);
    }
}

void ListSegments::render(Segment& s, std::vector<Item>::iterator from,
                          std::vector<Item>::iterator to, bool first, bool last) {
    std::size_t bytes = 0;
    for (auto it = from; it != to; ++it) bytes += it->json.size() + 2;
    auto text = std::make_shared<std::string>();
    text->reserve(bytes + 2);
    *text += first ? "[" : ", ";
    s.rows.clear();
    s.rows.reserve(static_cast<std::size_t>(to - from));
    for (auto it = from; it != to; ++it) {
        if (it != from) *text += ", ";
        s.rows.push_back({std::move(it->key), static_cast<std::uint32_t>(text->size()),
                          static_cast<std::uint32_t>(it->json.size())});
        *text += it->json;
    }
    if (last) *text += ']';
    s.bytes = bytes;
    s.edits.clear();
    s.first = first;
    s.last = last;
    s.rendered = {++versions_, std::move(text)};
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
    for (const auto& [_, s] : segments_) out.push_back(s.rendered);
    return out;
}

}  // namespace revalidator::worker
