#include "verify.hpp"

#include <map>
#include <optional>
#include <thread>
#include <unordered_set>

#include "cache/cache_key.hpp"
#include "cache/list_version.hpp"
#include "list/list.hpp"
#include "list/segments.hpp"

namespace revalidator::worker {

namespace {

// Keys asked of the cache at once in the first pass.
constexpr std::size_t kBatch = 1000;

using Found = VerifyReport::Found;

// What the cache answered against what it should hold (nullopt: nothing).
Found found(const Lookup& got, const std::optional<std::string>& expected) {
    if (!got.reachable) return Found::Unreadable;
    if (got.value == expected) return Found::Equal;
    return got.value ? Found::Wrong : Found::Missing;
}

Found compare_list(CacheSink& cache, const VerifySettings& s, const std::vector<Row>& rows) {
    if (!s.list) {
        // A collection without a list: neither the list nor its version may be there.
        const Found head = found(cache.get(s.prefix), std::nullopt);
        if (head != Found::Equal) return head;
        return found(cache.get(version_key(s.prefix)), std::nullopt);
    }
    std::vector<std::string_view> elements;
    elements.reserve(rows.size());
    for (const auto& row : rows) elements.push_back(row.json);
    // A list of its own, thrown away: read_back() is the one reader of the layout.
    List list(s.prefix, s.max_item_bytes, 0);
    const Found list_found = found(list.read_back(cache), jsonb_array_text(elements));
    if (list_found != Found::Equal) return list_found;
    // Readers trust the version without reading the list (docs/cache-layout.md), so it must name
    // the head there now.
    const Lookup head = cache.get(s.prefix);
    if (!head.value) return head.reachable ? Found::Missing : Found::Unreadable;
    return found(cache.get(version_key(s.prefix)), list_version(*head.value));
}

const char* name(Found f) {
    switch (f) {
        case Found::Wrong:
            return "wrong";
        case Found::Missing:
            return "missing";
        case Found::Unreadable:
            return "unreadable";
        case Found::Equal:
            break;
    }
    return "equal";
}

}  // namespace

VerifyReport verify(RowSource& source, CacheSink& cache, const VerifySettings& s,
                    KeyLister* lister) {
    VerifyReport report;
    Snapshot all = source.read({}, true, ListRows::All);
    report.rows = all.rows.size();
    // First pass: the differences, by pk, with the key each has; keys asked kBatch at a time.
    std::map<std::string, std::string> suspects;
    std::vector<const Row*> keyed;
    std::vector<std::string> keys;
    auto compare_batch = [&] {
        const auto got = cache.get_many(keys);
        for (std::size_t i = 0; i < keys.size(); ++i) {
            if (found(got[i], keyed[i]->json) != Found::Equal) {
                suspects.emplace(keyed[i]->pk, keys[i]);
            }
        }
        keyed.clear();
        keys.clear();
    };
    for (const auto& row : all.rows) {
        auto key = item_key(s.prefix, row.pk);
        if (!key) {
            ++report.unkeyable;
            continue;
        }
        keyed.push_back(&row);
        keys.push_back(std::move(*key));
        if (keys.size() == kBatch) compare_batch();
    }
    compare_batch();
    report.list = compare_list(cache, s, all.rows);
    report.compared = report.rows - report.unkeyable;
    // Keys no row has, listed from the cache.
    std::map<std::string, std::string> extras;
    if (lister) {
        if (auto keys = lister->keys(s.prefix + "/")) {
            report.listed = true;
            std::unordered_set<std::string_view> pks;
            for (const auto& row : all.rows) pks.insert(row.pk);
            for (const auto& key : *keys) {
                auto pk = listed_row_id(s.prefix, key);
                if (pk && !pks.count(*pk)) extras.emplace(std::move(*pk), key);
            }
        }
    }
    if (suspects.empty() && extras.empty() && report.list == Found::Equal) return report;

    std::this_thread::sleep_for(s.settle);
    std::vector<std::string> pks;
    for (const auto& [pk, _] : suspects) pks.push_back(pk);
    for (const auto& [pk, _] : extras) pks.push_back(pk);
    const bool list_differs = report.list != Found::Equal;
    Snapshot now = source.read(pks, false, list_differs ? ListRows::All : ListRows::Changes);
    std::map<std::string, std::string> rows_now;
    for (auto& row : now.rows) rows_now.emplace(row.pk, std::move(row.json));
    for (const auto& [pk, key] : suspects) {
        auto it = rows_now.find(pk);
        // Deleted meanwhile: its key must be gone.
        const auto row =
            it == rows_now.end() ? std::nullopt : std::optional<std::string>(it->second);
        const Found f = found(cache.get(key), row);
        if (f == Found::Equal) continue;
        (f == Found::Wrong     ? report.wrong
         : f == Found::Missing ? report.missing
                               : report.unreadable)++;
        if (report.examples.size() < s.max_examples) {
            report.examples.push_back(std::string(name(f)) + " " + key);
        }
    }
    for (const auto& [pk, key] : extras) {
        // A row with exactly this id exists now (inserted meanwhile), or the key is gone.
        if (rows_now.count(pk) || !cache.get(key).value) continue;
        ++report.extra;
        if (report.examples.size() < s.max_examples) report.examples.push_back("extra " + key);
    }
    if (list_differs) {
        report.list = compare_list(cache, s, now.listed);
        if (report.list != Found::Equal && report.examples.size() < s.max_examples) {
            report.examples.push_back(std::string(name(report.list)) + " " + s.prefix);
        }
    }
    return report;
}

std::string describe(const VerifyReport& r, const std::string& table) {
    std::string out = "verify " + table + ": " + std::to_string(r.rows) + " rows, " +
                      std::to_string(r.compared) + " keys compared: " + std::to_string(r.wrong) +
                      " wrong, " + std::to_string(r.missing) + " missing, " +
                      std::to_string(r.unreadable) + " unreadable; " +
                      (r.listed ? std::to_string(r.extra) + " extra keys"
                                : std::string("extra keys not listed")) +
                      "; list " + name(r.list);
    if (r.unkeyable) {
        out += "; " + std::to_string(r.unkeyable) + " rows have no key (docs/cache-layout.md)";
    }
    out += "\n";
    for (const auto& e : r.examples) out += "  " + e + "\n";
    return out;
}

}  // namespace revalidator::worker
