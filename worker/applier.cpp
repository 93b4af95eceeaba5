#include "applier.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <iterator>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "cache/cache_key.hpp"
#include "cache/list_version.hpp"
#include "cache/manifest.hpp"
#include "runtime/clock.hpp"
#include "runtime/log.hpp"

namespace revalidator::worker {

namespace {

// A JSON array's text, fed in pieces, cut into its elements' texts (an element may span pieces).
// Only strings and nesting are tracked; each element is parsed alone. Text that is no array ends
// it quietly: a list that cannot be read teaches nothing.
class ArrayElements {
  public:
    void feed(std::string_view piece, const std::function<void(std::string_view)>& element) {
        for (char c : piece) {
            if (failed_) return;
            if (!started_) {
                if (c == '[') {
                    started_ = true;
                } else if (!std::isspace(static_cast<unsigned char>(c))) {
                    failed_ = true;
                }
                continue;
            }
            if (depth_ == 0) {
                if (c == '{' || c == '[') {
                    depth_ = 1;
                    text_.assign(1, c);
                } else if (c == ']') {
                    failed_ = true;  // the end: nothing more is read
                } else if (c != ',' && !std::isspace(static_cast<unsigned char>(c))) {
                    failed_ = true;  // a scalar: never a row
                }
                continue;
            }
            text_ += c;
            if (in_string_) {
                if (escaped_) {
                    escaped_ = false;
                } else if (c == '\\') {
                    escaped_ = true;
                } else if (c == '"') {
                    in_string_ = false;
                }
            } else if (c == '"') {
                in_string_ = true;
            } else if (c == '{' || c == '[') {
                ++depth_;
            } else if ((c == '}' || c == ']') && --depth_ == 0) {
                element(text_);
            }
        }
    }

  private:
    bool started_ = false, failed_ = false, in_string_ = false, escaped_ = false;
    std::size_t depth_ = 0;
    std::string text_;
};

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Markers known to this process at most; past it, no new one is written (reads of such rows wait
// for a fill, as without markers), so a crawl of absent ids cannot fill the memory.
constexpr std::size_t kMaxMarked = 100'000;

// Each row is logged the first time it is skipped, as a resync meets it again every time; past
// this many rows only the count grows, so a table full of such ids cannot fill the memory.
constexpr std::size_t kMaxUnkeyableLogged = 1000;

const char* status_name(WriteStatus s) {
    return s == WriteStatus::Ok ? "ok" : s == WriteStatus::Refused ? "refused" : "unreachable";
}

}  // namespace

Applier::Applier(RowSource& source, CacheSink& sink, ApplierConfig cfg, metrics::Registry& r)
    : source_(source),
      sink_(sink),
      cfg_(std::move(cfg)),
      list_(cfg_.prefix, cfg_.max_item_bytes, unix_micros()),
      batches_(r.counter("revalidator_worker_batches_total", "Batches applied")),
      batch_size_(r.histogram("revalidator_worker_batch_rows", "Distinct rows per batch",
                              metrics::size_buckets())),
      rows_read_(r.counter("revalidator_worker_rows_read_total", "Rows read from Postgres")),
      read_seconds_(r.histogram("revalidator_worker_batch_read_seconds",
                                "Time to read a batch's snapshot from Postgres",
                                metrics::latency_buckets())),
      batch_seconds_(r.histogram("revalidator_worker_batch_seconds",
                                 "Time to apply a batch: its read and every write",
                                 metrics::latency_buckets())),
      list_rebuilds_(
          r.counter("revalidator_worker_list_rebuilds_total", "Lists written to the cache")),
      list_seconds_(r.histogram("revalidator_worker_list_rebuild_seconds", "Time to write the list",
                                metrics::latency_buckets())),
      list_parts_written_(r.counter("revalidator_worker_list_parts_written_total",
                                    "Parts of a chunked list written (unchanged parts are kept)")),
      writes_(r.counter("revalidator_worker_cache_writes_total",
                        "Cache sets and deletes that succeeded")),
      write_errors_(r.counter("revalidator_worker_cache_write_errors_total",
                              "Cache sets and deletes that failed")),
      resyncs_(r.counter("revalidator_worker_resyncs_total", "Full resyncs of the table")),
      stale_deleted_(r.counter("revalidator_worker_stale_keys_deleted_total",
                               "Keys of rows that no longer exist, deleted by a resync")),
      unkeyable_(r.counter("revalidator_worker_rows_unkeyable_total",
                           "Rows read whose primary key cannot form a cache key, so not cached")),
      staleness_(r.histogram("revalidator_worker_staleness_seconds",
                             "Time from the ingress receiving a webhook to the cache showing it",
                             metrics::latency_buckets())),
      markers_written_(r.counter("revalidator_worker_absent_markers_written_total",
                                 "Absent markers written for rows asked for that do not exist")) {
    for (const auto& key : cfg_.views) views_.emplace_back(key, cfg_.max_item_bytes, unix_micros());
}

WriteStatus Applier::remove(const std::string& key) {
    WriteStatus st = sink_.remove(key);
    (st == WriteStatus::Ok ? writes_ : write_errors_).inc();
    return st;
}

std::vector<WriteStatus> Applier::remove_all(const std::vector<std::string>& keys) {
    if (keys.empty()) return {};
    std::vector<WriteStatus> statuses = sink_.remove_many(keys);
    for (WriteStatus st : statuses) (st == WriteStatus::Ok ? writes_ : write_errors_).inc();
    return statuses;
}

bool Applier::write(const std::string& key, std::string_view value, Outcome& out) {
    return settle(key, value, sink_.set(key, value), out);
}

bool Applier::settle(const std::string& key, std::string_view value, WriteStatus st, Outcome& out) {
    if (st == WriteStatus::Ok) {
        writes_.inc();
        return true;
    }
    write_errors_.inc();
    // Whatever the key held is now older than Postgres: remove it rather than leave it stale.
    WriteStatus removed = st == WriteStatus::Refused ? remove(key) : st;
    out.cache_unreachable |= removed == WriteStatus::Unreachable;
    log::warn("cache write failed; key deleted, will retry",
              {{"key", key},
               {"bytes", value.size()},
               {"status", status_name(st)},
               {"deleted", removed == WriteStatus::Ok}});
    return false;
}

bool Applier::write_list(List& list, const std::string& key, Outcome& out) {
    auto start = std::chrono::steady_clock::now();
    ListPlan plan = list.plan([&](const std::string& part) { return part_cached(part, start); });
    std::vector<WriteStatus> statuses = sink_.set_many(plan.parts);
    bool ok = true;
    for (std::size_t i = 0; i < plan.parts.size(); ++i) {
        ok = settle(plan.parts[i].key, plan.parts[i].value, statuses[i], out) && ok;
    }
    // The version last: readers trust it without reading the head, so it never names a head that
    // is not written yet (docs/cache-layout.md, "The list's version").
    const std::string version = version_key(key);
    ok = ok && write(key, plan.head, out);
    ok = ok && write(version, list_version(plan.head), out);
    if (!ok) {
        // The old head may still point at a complete older list: take it away, its version first,
        // and the parts of this list. The parts the old head named stay, for a later list to reuse.
        out.cache_unreachable |= remove(version) == WriteStatus::Unreachable;
        out.cache_unreachable |= remove(key) == WriteStatus::Unreachable;
        std::vector<std::string> parts;
        for (const auto& part : plan.parts) parts.push_back(part.key);
        remove_all(parts);
        return false;
    }
    list.committed();
    for (const auto& part : plan.parts) parts_seen_[part.key] = start;
    remove_all(plan.obsolete);
    for (const auto& key : plan.obsolete) parts_seen_.erase(key);
    list_parts_written_.inc(plan.parts.size());
    list_rebuilds_.inc();
    list_seconds_.observe(seconds_since(start));
    return true;
}

bool Applier::write_views(Snapshot& snap, Outcome& out) {
    if (snap.views.size() != views_.size()) return true;  // a source that serves no views
    bool ok = true;
    for (std::size_t i = 0; i < views_.size(); ++i) {
        // An earlier process's parts: adopted, so that they are deleted once replaced.
        if (!views_read_back_) views_[i].read_back(sink_);
        Snapshot view;
        view.rows = std::move(snap.views[i]);
        views_[i].follow(view, true);
        ok = write_list(views_[i], cfg_.views[i], out) && ok;
    }
    views_read_back_ = true;
    return ok;
}

bool Applier::part_cached(const std::string& key, std::chrono::steady_clock::time_point now) {
    auto seen = parts_seen_.find(key);
    if (seen != parts_seen_.end() && now - seen->second < cfg_.part_recheck) return true;
    if (!sink_.has(key)) {
        if (seen != parts_seen_.end()) parts_seen_.erase(seen);
        return false;
    }
    parts_seen_[key] = now;
    return true;
}

void Applier::learn_cached_rows() {
    // The list read a part at a time and each row parsed alone: at a million rows the list is
    // 600 MB, and parsed whole it took gigabytes.
    ArrayElements elements;
    Lookup cached = list_.read_back(sink_, [&](std::string_view piece) {
        elements.feed(piece, [&](std::string_view element) {
            auto row = nlohmann::json::parse(element, nullptr, false);
            if (!row.is_object()) return;
            auto pk = row.find(cfg_.primary_key);
            if (pk == row.end()) return;
            cached_.insert(pk->is_string() ? pk->get<std::string>() : pk->dump());
        });
    });
    // Unreachable: try again on the next resync rather than believe the cache is empty.
    cached_known_ = cached.reachable;
}

bool Applier::cache_restarted() {
    std::string now = sink_.instance();
    if (now.empty()) return false;
    bool changed = !cache_instance_.empty() && now != cache_instance_;
    cache_instance_ = now;
    // The keys known to be cached are kept: writes may have reached the new server before the
    // restart was noticed, and a key forgotten here would never be deleted (deleting a key that
    // is not there costs nothing).
    return changed;
}

void Applier::took_over() {
    inherited_until_ = std::chrono::steady_clock::now() + cfg_.absent_ttl;
}

void Applier::unmark(const std::vector<Row>& rows, bool full, Outcome& out,
                     const std::function<void(const std::string&)>& owe) {
    const auto now = std::chrono::steady_clock::now();
    // A resync writes every row: only the markers this process knows are looked for then.
    const bool inherited = !full && now < inherited_until_;
    if (!inherited && marked_.empty()) return;
    std::vector<const std::string*> pks;
    std::vector<std::string> keys;
    for (const auto& row : rows) {
        auto it = marked_.find(row.pk);
        const bool mine = it != marked_.end() && now < it->second;
        if (!mine && !inherited) {
            if (it != marked_.end()) marked_.erase(it);
            continue;
        }
        auto key = absent_key(cfg_.prefix, row.pk);
        if (!key) continue;  // no marker can have been written
        pks.push_back(&row.pk);
        keys.push_back(std::move(*key));
    }
    std::vector<WriteStatus> statuses = remove_all(keys);
    for (std::size_t i = 0; i < pks.size(); ++i) {
        const std::string& pk = *pks[i];
        if (statuses[i] == WriteStatus::Ok) {
            marked_.erase(pk);
            continue;
        }
        // The row's key is still written: readers look at it first. The marker is owed.
        out.cache_unreachable |= statuses[i] == WriteStatus::Unreachable;
        owe(pk);
        marked_.try_emplace(pk, now + cfg_.absent_ttl);
    }
}

void Applier::mark_absent(const std::vector<std::string>& pks) {
    if (cfg_.absent_ttl.count() == 0 || pks.empty()) return;
    const auto now = std::chrono::steady_clock::now();
    std::vector<CacheItem> items;
    for (const auto& pk : pks) {
        if (marked_.size() >= kMaxMarked) {
            std::erase_if(marked_, [&](const auto& m) { return now >= m.second; });
            if (marked_.size() >= kMaxMarked) break;
        }
        auto key = absent_key(cfg_.prefix, pk);
        if (!key) continue;
        // Recorded before the write: a write that fails may still have landed.
        marked_[pk] = now + cfg_.absent_ttl;
        items.push_back({.key = std::move(*key), .value = kAbsentValue, .ttl = cfg_.absent_ttl});
    }
    for (WriteStatus st : sink_.set_many(items)) {
        if (st == WriteStatus::Ok) {
            writes_.inc();
            markers_written_.inc();
        } else {
            write_errors_.inc();
        }
    }
}

void Applier::skip_unkeyable(const Row& row, const std::string& why) {
    unkeyable_.inc();
    if (unkeyable_logged_.size() >= kMaxUnkeyableLogged) return;
    if (!unkeyable_logged_.insert(row.pk).second) return;
    log::warn("row not cached: its primary key cannot be a cache key",
              {{"pk", row.pk.substr(0, 64)}, {"pk_bytes", row.pk.size()}, {"reason", why}});
}

std::vector<std::string> Applier::write_rows(const std::vector<Row>& rows, Outcome& out,
                                             const std::function<void(const std::string&)>& owe) {
    std::vector<CacheItem> items;
    std::vector<std::string> keyed;
    items.reserve(rows.size());
    keyed.reserve(rows.size());
    for (const auto& row : rows) {
        auto key = item_key(cfg_.prefix, row.pk);
        if (!key) {
            skip_unkeyable(row, key.error());
            continue;
        }
        items.push_back({std::move(*key), row.json});
        keyed.push_back(row.pk);
    }
    std::vector<WriteStatus> statuses = sink_.set_many(items);
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (!settle(items[i].key, items[i].value, statuses[i], out)) owe(keyed[i]);
    }
    return keyed;
}

// The batch's pks as the source spells them ("007" is row 7), each with its earliest receive time:
// rows are matched, deleted and retried by these.
std::unordered_map<std::string, std::uint64_t> Applier::spelled(const Batch& b,
                                                                const Snapshot& snap) {
    if (b.full) return b.received;
    if (snap.asked.size() != b.pks.size()) {
        throw std::logic_error("row source answered for " + std::to_string(snap.asked.size()) +
                               " of " + std::to_string(b.pks.size()) + " ids");
    }
    std::unordered_map<std::string, std::uint64_t> out;
    for (std::size_t i = 0; i < b.pks.size(); ++i) {
        auto it = b.received.find(b.pks[i]);
        std::uint64_t at = it == b.received.end() ? 0 : it->second;
        auto [slot, added] = out.try_emplace(snap.asked[i], at);
        if (!added) slot->second = std::min(slot->second, at);
    }
    return out;
}

Applier::Resynced Applier::resync(Outcome& out, const std::function<void(const std::string&)>& owe,
                                  Snapshot& snap) {
    // The pks known cached before: each one a run writes moves back to cached_, and those left
    // are the keys of rows that no longer exist.
    std::unordered_set<std::string> before = std::move(cached_);
    cached_.clear();
    // At a million keys, growing the set one rehash at a time was a tenth of a resync's CPU.
    cached_.reserve(std::max(before.size(), last_full_rows_));
    std::size_t rows = 0, keyed = 0;
    if (cfg_.list) list_.start_full();
    try {
        snap = source_.read_full(cfg_.run_rows, [&](std::vector<Row>& run, KeyOrder order) {
            if (cfg_.list) list_.add_full(run, order);
            rows += run.size();
            rows_read_.inc(run.size());
            unmark(run, true, out, owe);
            for (auto& pk : write_rows(run, out, owe)) {
                ++keyed;
                if (auto known = before.extract(pk)) {
                    cached_.insert(std::move(known));
                } else {
                    cached_.insert(std::move(pk));
                }
            }
        });
    } catch (...) {
        cached_.merge(before);  // not deleted: still cached, as far as this process knows
        throw;
    }
    if (cfg_.list) list_.finish_full(snap.key_order);
    last_full_rows_ = rows;
    std::size_t deleted = 0;
    std::vector<const std::string*> stale;
    std::vector<std::string> keys;
    for (const auto& pk : before) {
        // Learned from the cache: no key can name such a row, so there is none to delete.
        auto key = item_key(cfg_.prefix, pk);
        if (!key) continue;
        stale.push_back(&pk);
        keys.push_back(std::move(*key));
    }
    std::vector<WriteStatus> statuses = remove_all(keys);
    for (std::size_t i = 0; i < stale.size(); ++i) {
        if (statuses[i] == WriteStatus::Ok) {
            ++deleted;
        } else {
            // Still cached: kept known so the retry deletes it.
            owe(*stale[i]);
            cached_.insert(*stale[i]);
        }
    }
    stale_deleted_.inc(deleted);
    resyncs_.inc();
    return {rows, keyed, deleted};
}

void Applier::drop_list(Outcome& out) {
    Lookup head = sink_.get(cfg_.prefix);
    if (!head.reachable) {
        out.cache_unreachable = true;
        return;
    }
    std::vector<std::string> parts;
    if (head.value && manifest::is_manifest(*head.value)) {
        if (auto decoded = manifest::decode(*head.value)) parts = std::move(decoded->parts);
    }
    // As a failed list write does: the version first, then the head, then what it named.
    out.cache_unreachable |= remove(version_key(cfg_.prefix)) == WriteStatus::Unreachable;
    if (!head.value) return;
    out.cache_unreachable |= remove(cfg_.prefix) == WriteStatus::Unreachable;
    for (const auto& part : parts) remove(part);
    log::info("list deleted: this collection keeps none", {{"key", cfg_.prefix}});
}

std::function<BatchRead()> Applier::reader(const Batch& b) const {
    const ListRows wants = cfg_.list ? list_.wants() : ListRows::Changes;
    return [&source = source_, &seconds = read_seconds_, pks = b.pks, wants] {
        BatchRead read{.snap = {}, .list = wants, .started = std::chrono::steady_clock::now()};
        read.snap = source.read(pks, false, wants);
        seconds.observe(seconds_since(read.started));
        return read;
    };
}

Outcome Applier::apply(const Batch& b) {
    if (!b.full) return write(b, reader(b)());
    return write(
        b, {.snap = {}, .list = ListRows::Changes, .started = std::chrono::steady_clock::now()});
}

Outcome Applier::write(const Batch& b, BatchRead read) {
    // An earlier batch found a row its list cannot place by key: it needs every row now.
    const bool short_read =
        !b.full && cfg_.list && read.list == ListRows::Changes && list_.wants() == ListRows::All;
    if (short_read) read.snap = reader(b)().snap;
    const auto start = read.started;
    if (b.full && !cached_known_) learn_cached_rows();
    Outcome out;
    std::unordered_map<std::string, std::uint64_t> received;
    std::function<void(const std::string&)> owe = [&](const std::string& pk) {
        auto it = received.find(pk);
        out.retry.received.emplace(pk, it == received.end() ? unix_micros() : it->second);
    };
    Snapshot& snap = read.snap;
    Resynced full;
    if (b.full) {
        received = b.received;
        full = resync(out, owe, snap);
    } else {
        if (cfg_.list) list_.follow(snap, false);
        rows_read_.inc(snap.rows.size());
        received = spelled(b, snap);
        std::unordered_set<std::string_view> found;
        for (const auto& row : snap.rows) found.insert(row.pk);
        unmark(snap.rows, false, out, owe);
        for (auto& pk : write_rows(snap.rows, out, owe)) cached_.insert(std::move(pk));
        std::vector<const std::string*> gone;
        std::vector<std::string> keys;
        for (const auto& [pk, _] : received) {
            if (found.count(pk)) continue;
            auto key = item_key(cfg_.prefix, pk);
            if (!key) continue;  // no key can name it, so none is cached
            gone.push_back(&pk);
            keys.push_back(std::move(*key));
        }
        std::vector<WriteStatus> statuses = remove_all(keys);
        std::vector<std::string> absent;
        for (std::size_t i = 0; i < gone.size(); ++i) {
            out.cache_unreachable |= statuses[i] == WriteStatus::Unreachable;
            if (statuses[i] == WriteStatus::Ok) {
                cached_.erase(*gone[i]);
                absent.push_back(*gone[i]);
            } else {
                owe(*gone[i]);
            }
        }
        mark_absent(absent);
    }
    batches_.inc();
    batch_size_.observe(static_cast<double>(b.full ? full.rows : b.pks.size()));
    if (!cfg_.list) {
        // An earlier configuration's list would stay behind, stale: a resync takes it away.
        if (b.full) drop_list(out);
    } else if (!list_.ready() || !write_list(list_, cfg_.prefix, out)) {
        out.retry.list = true;
    }
    if (!write_views(snap, out)) out.retry.list = true;

    std::uint64_t now = unix_micros();
    for (const auto& [pk, at] : received) {
        if (at && !out.retry.received.count(pk) && now >= at) {
            staleness_.observe(static_cast<double>(now - at) / 1e6);
        }
    }
    if (out.cache_unreachable) {
        // Memcached may have restarted empty: once it answers again, rewrite everything, and
        // read back what it lists then (it may still hold keys this resync could not delete).
        cached_known_ = false;
        out.retry.full = true;
        out.retry.reason = "cache unreachable";
    }
    for (const auto& [pk, _] : out.retry.received) out.retry.pks.push_back(pk);
    batch_seconds_.observe(seconds_since(start));
    if (b.full) {
        log::info("resync done", {{"reason", b.reason},
                                  {"rows", full.rows},
                                  {"unkeyable", full.rows - full.keyed},
                                  {"stale_deleted", full.deleted},
                                  {"list_segments", cfg_.list ? list_.segment_count() : 0},
                                  {"seconds", seconds_since(start)},
                                  {"complete", out.done()}});
    }
    return out;
}

}  // namespace revalidator::worker
