#include "list/list.hpp"

#include "cache/manifest.hpp"
#include "runtime/log.hpp"

namespace revalidator::worker {

List::List(std::string prefix, std::size_t max_item_bytes, std::uint64_t generation)
    : prefix_(prefix),
      segments_(max_item_bytes, versions_),
      layout_(std::move(prefix), max_item_bytes, generation) {}

ListRows List::wants() const {
    return complete_ && segments_.valid() ? ListRows::Changes : ListRows::All;
}

void List::follow(const Snapshot& snap, bool full) {
    if (full) {
        start_full();
        add_full(snap.rows, snap.key_order);
        finish_full(snap.key_order);
        if (complete_) return;
        // A key not of its kind, with every row at hand: the list is kept whole instead.
        Snapshot whole;
        whole.listed = snap.rows;
        follow(whole, false);
        return;
    }
    written_ = false;
    if (!complete_) {
        // A full read was abandoned: what it placed is not the table.
        segments_.clear();
        filling_ = false;
        flat_.clear();
        complete_ = true;
    }
    if (segments_.valid()) {
        segments_.apply(snap.asked, snap.rows);
        list_ = segments_.segments();
        return;
    }
    std::vector<std::string_view> elements;
    elements.reserve(snap.listed.size());
    for (const auto& row : snap.listed) elements.push_back(row.json);
    list_ = {{++versions_, std::make_shared<const std::string>(jsonb_array_text(elements))}};
}

void List::add_full(const std::vector<Row>& run, KeyOrder order) {
    if (!filling_) {
        written_ = false;
        complete_ = false;
        filling_ = true;
        list_.clear();
        flat_.clear();
        if (order != KeyOrder::None) {
            segments_.start(order);
        } else {
            segments_.clear();
            flat_.push_back('[');
        }
    }
    if (order != KeyOrder::None) {
        segments_.append(run);
        return;
    }
    for (const auto& row : run) {
        if (flat_.size() > 1) flat_ += ", ";
        flat_ += row.json;
    }
}

void List::finish_full(KeyOrder order) {
    if (!filling_) add_full({}, order);
    filling_ = false;
    if (order == KeyOrder::None) {
        flat_ += ']';
        list_ = {{++versions_, std::make_shared<const std::string>(std::move(flat_))}};
        flat_ = {};
        complete_ = true;
        return;
    }
    segments_.finish();
    // A key not of its kind: the rows read are gone, so the next read asks for every row.
    if (!segments_.valid()) return;
    list_ = segments_.segments();
    complete_ = true;
}

ListPlan List::plan(const std::function<bool(const std::string&)>& still_cached) {
    return layout_.plan(list_, still_cached);
}

void List::committed() {
    layout_.committed();
    written_ = true;
}

std::optional<std::vector<std::pair<std::string, std::string_view>>> List::rows_between(
    const std::optional<std::string>& after, const std::optional<std::string>& through) const {
    if (!complete_ || !segments_.valid()) return std::nullopt;
    return segments_.rows_between(after, through);
}

std::optional<ListPlan> List::in_cache() const {
    if (!written_) return std::nullopt;
    return layout_.written(list_);
}

std::optional<std::vector<CacheItem>> List::parts_in_cache() const {
    if (!written_) return std::nullopt;
    return layout_.written_parts(list_);
}

void List::distrust_cache() {
    layout_.distrust();
}

void List::distrust_part(std::string_view part_key) {
    layout_.distrust_part(part_key);
}

Lookup List::read_back(CacheSink& sink) {
    std::string list;
    Lookup whole = read_back(sink, [&](std::string_view piece) { list += piece; });
    if (whole.value) whole.value = std::move(list);
    return whole;
}

Lookup List::read_back(CacheSink& sink, const std::function<void(std::string_view)>& piece) {
    Lookup head = sink.get(prefix_);
    if (!head.value) return head;
    if (!manifest::is_manifest(*head.value)) {
        piece(*head.value);
        return {std::string(), head.reachable};
    }
    auto decoded = manifest::decode(*head.value);
    if (!decoded) return {};
    for (const auto& bad : decoded->rejected) {
        log::warn(
            "cached manifest names a part that cannot be a key; ignored",
            {{"key", bad.key.substr(0, 64)}, {"bytes", bad.key.size()}, {"reason", bad.reason}});
    }
    layout_.adopt(decoded->parts);
    if (!decoded->rejected.empty()) return {};
    for (const auto& key : decoded->parts) {
        Lookup part = sink.get(key);
        if (!part.value) return {std::nullopt, part.reachable};
        piece(*part.value);
    }
    return {std::string()};
}

}  // namespace revalidator::worker
