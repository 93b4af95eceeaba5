// In-memory stand-ins for the worker's adapters, shared by the applier, loop and anti-entropy
// tests: FakeSource plays Postgres (an ordered pk -> row JSON table), FakeSink plays Memcached (a
// key -> value map with switches for refusals and outages, which records every key Memcached's text
// protocol would misread).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "anti_entropy.hpp"
#include "cache_sink.hpp"
#include "row_source.hpp"
#include "worker_config.hpp"

namespace revalidator::worker::fakes {

// A row as Postgres' to_jsonb(row)::text renders it.
inline std::string row_json(const std::string& id_json, const std::string& title) {
    return R"({"id": )" + id_json + R"(, "title": ")" + title + R"("})";
}
inline std::string int_row(int id, const std::string& title = "t") {
    return row_json(std::to_string(id), title);
}

// The list as Postgres renders a jsonb array: elements joined by ", ".
inline std::string list_text(const std::vector<std::string>& rows) {
    std::string out = "[";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        if (i) out += ", ";
        out += rows[i];
    }
    return out + "]";
}

class FakeSource : public RowSource, public DigestSource {
  public:
    struct Call {
        std::vector<std::string> pks;
        bool full;
        ListRows list;
    };

    std::map<std::string, std::string> table;  // pk -> to_jsonb(row)::text, in list order
    std::vector<Call> calls;
    bool fail = false;  // read() throws, as the Postgres adapter does when the server is away
    // How the list is ordered (Snapshot::key_order). The table is ordered as text: use ids of one
    // length with KeyOrder::Integer.
    KeyOrder key_order = KeyOrder::None;
    // How the key type spells an id (Snapshot::asked); nullopt when no row can have it.
    std::function<std::optional<std::string>(const std::string&)> canonical =
        [](const std::string& pk) { return std::optional<std::string>(pk); };
    // The views' queries (Snapshot::views): each picks its rows from the table, in its order.
    std::vector<std::function<std::vector<Row>(const std::map<std::string, std::string>&)>> views;

    void put(int id, const std::string& title = "t") {
        table[std::to_string(id)] = int_row(id, title);
    }

    std::string list() const {
        std::vector<std::string> rows;
        for (const auto& [pk, json] : table) rows.push_back(json);
        return list_text(rows);
    }

    Snapshot read(const std::vector<std::string>& pks, bool full, ListRows list) override {
        calls.push_back({pks, full, list});
        if (fail) throw std::runtime_error("connection to server was lost");
        Snapshot s;
        s.key_order = key_order;
        if (full) {
            s.rows = all();
        } else {
            // Like "pk = ANY(...)": each row once, however many ids name it.
            std::set<std::string> named;
            for (const auto& pk : pks) {
                auto spelled = canonical(pk);
                s.asked.push_back(spelled.value_or(pk));
                if (spelled) named.insert(*spelled);
            }
            for (const auto& pk : named) {
                if (auto it = table.find(pk); it != table.end()) s.rows.push_back({pk, it->second});
            }
        }
        if (!full && list == ListRows::All) s.listed = all();
        for (const auto& view : views) s.views.push_back(view(table));
        return s;
    }

    // Keyset pages in the table's order, as Postgres pages by primary key.
    std::vector<RowDigest> digests(const std::optional<std::string>& after,
                                   std::size_t limit) override {
        if (fail) throw std::runtime_error("connection to server was lost");
        std::vector<RowDigest> out;
        for (auto it = after ? table.upper_bound(*after) : table.begin();
             it != table.end() && out.size() < limit; ++it) {
            out.push_back({it->first, md5_hex(it->second)});
        }
        return out;
    }
    std::vector<RowDigest> digests_of(const std::vector<std::string>& pks) override {
        if (fail) throw std::runtime_error("connection to server was lost");
        std::vector<RowDigest> out;
        for (const auto& pk : pks) {
            if (auto it = table.find(pk); it != table.end())
                out.push_back({pk, md5_hex(it->second)});
        }
        return out;
    }

    bool spells_key(const std::string& id) override { return canonical(id).has_value(); }

  private:
    std::vector<Row> all() const {
        std::vector<Row> rows;
        for (const auto& [pk, json] : table) rows.push_back({pk, json});
        return rows;
    }
};

class FakeSink : public CacheSink {
  public:
    std::map<std::string, std::string, std::less<>> store;
    std::set<std::string, std::less<>> refuse;            // set() of these keys is Refused
    std::set<std::string, std::less<>> unreachable_keys;  // every operation on these fails
    std::size_t max_value_bytes = std::numeric_limits<std::size_t>::max();  // larger: Refused
    bool unreachable = false;                                               // everything fails
    // Writes and deletes allowed before the gate closes (Fenced), as McSink does when the lease
    // is no longer confirmed fresh; -1: never closes.
    int writes_before_fence = -1;
    std::string instance_id;  // what instance() names while reachable; change it for a restart
    int sets = 0, removes = 0, gets = 0, touches = 0;
    std::vector<std::string> ops;  // "set KEY" and "remove KEY", in the order sent
    // Keys sent that Memcached's text protocol would misread: a space or "\r\n" inside ends the
    // key and the rest is read as arguments or as the next command; over 250 bytes is an error.
    std::vector<std::string> misread_keys;

    WriteStatus set(std::string_view key, std::string_view value) override {
        gate();
        ++sets;
        sent(key);
        ops.push_back("set " + std::string(key));
        if (down(key)) return WriteStatus::Unreachable;
        // Like Memcached, a refused value leaves what the key held in place.
        if (refuse.count(key) || value.size() > max_value_bytes) return WriteStatus::Refused;
        store[std::string(key)] = std::string(value);
        return WriteStatus::Ok;
    }

    // Keys written with an expiry, and that expiry (they stay in `store` until removed).
    std::map<std::string, std::chrono::seconds, std::less<>> ttls;
    WriteStatus set_expiring(std::string_view key, std::string_view value,
                             std::chrono::seconds ttl) override {
        WriteStatus st = set(key, value);
        if (st == WriteStatus::Ok) ttls[std::string(key)] = ttl;
        return st;
    }

    // Calls of remove_many: each is one pipelined round for McSink.
    int remove_rounds = 0;
    std::vector<WriteStatus> remove_many(std::span<const std::string> keys) override {
        ++remove_rounds;
        return CacheSink::remove_many(keys);
    }

    WriteStatus remove(std::string_view key) override {
        gate();
        ++removes;
        sent(key);
        ops.push_back("remove " + std::string(key));
        if (down(key)) return WriteStatus::Unreachable;
        if (auto it = store.find(key); it != store.end()) store.erase(it);
        if (auto it = ttls.find(key); it != ttls.end()) ttls.erase(it);
        return WriteStatus::Ok;
    }

    Lookup get(std::string_view key) override {
        ++gets;
        sent(key);
        if (down(key)) return {std::nullopt, false};
        auto it = store.find(key);
        if (it == store.end()) return {};
        return {it->second};
    }

    std::string instance() override { return unreachable ? "" : instance_id; }

    bool has(std::string_view key) override {
        ++touches;
        sent(key);
        return !down(key) && store.find(key) != store.end();
    }
    std::string at(std::string_view key) const {
        auto it = store.find(key);
        return it == store.end() ? "<absent>" : it->second;
    }

    // The list as a reader sees it: the head, or the parts its manifest names, concatenated.
    std::string read_list(const std::string& prefix) const {
        std::string head = at(prefix);
        if (head.empty() || head.front() != '{') return head;
        auto manifest = nlohmann::json::parse(head);
        std::string list;
        for (const auto& key : manifest.at("parts")) list += at(key.get<std::string>());
        return list;
    }

    // Keys holding list parts.
    std::vector<std::string> part_keys(const std::string& prefix) const {
        std::vector<std::string> keys;
        for (const auto& [key, _] : store) {
            if (key.rfind(prefix + ":part:", 0) == 0) keys.push_back(key);
        }
        return keys;
    }

  private:
    bool down(std::string_view key) const { return unreachable || unreachable_keys.count(key); }
    void gate() {
        if (writes_before_fence == 0) throw Fenced("fenced");
        if (writes_before_fence > 0) --writes_before_fence;
    }
    void sent(std::string_view key) {
        bool misread =
            key.empty() || key.size() > 250 || std::any_of(key.begin(), key.end(), [](char c) {
                return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F;
            });
        if (misread) misread_keys.emplace_back(key);
    }
};

// The value of one series in a Registry::render() text, e.g. "revalidator_worker_batches_total";
// nullopt when the series is not there.
inline std::optional<double> metric(const std::string& text, const std::string& series) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        std::string_view line(text.data() + pos, end - pos);
        if (line.size() > series.size() && line.substr(0, series.size()) == series &&
            line[series.size()] == ' ') {
            return std::stod(std::string(line.substr(series.size() + 1)));
        }
        pos = end + 1;
    }
    return std::nullopt;
}

// The applier as the worker builds it by default: prefix "/articles", primary key "id".
inline ApplierConfig default_applier() {
    return applier_config(Config{});
}

// The loop as the worker builds it by default, but with no periodic resync, and retries after
// 1..4 ms so that polling finds them quickly.
inline BatchLoopConfig quick_loop() {
    using namespace std::chrono_literals;
    auto cfg = loop_config(Config{});
    cfg.resync_interval = 0ms;
    cfg.retry_min = 1ms;
    cfg.retry_max = 4ms;
    return cfg;
}

}  // namespace revalidator::worker::fakes
