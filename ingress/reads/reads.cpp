#include "reads.hpp"

#include <map>
#include <thread>

#include "cache/cache_key.hpp"
#include "cache/list_version.hpp"
#include "cache/manifest.hpp"
#include "etag.hpp"

namespace revalidator::ingress {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kListAttempts = 3;
// Past this many rows asked and not yet expired, a miss waits without asking: a storm of misses
// on distinct ids cannot grow the map without bound (the worker's resync heals those rows).
constexpr std::size_t kMaxAsked = 100'000;

constexpr const char* kResults[] = {"hit",       "filled",     "database",    "not_modified",
                                    "not_found", "not_cached", "unavailable", "changing"};

}  // namespace

struct Reads::Counters {
    Counters(metrics::Registry& r, const std::string& labels)
        : fills(r.counter("revalidator_ingress_read_fills_total",
                          "Rows the read routes asked the worker to fill after a miss", labels)),
          fills_refused(r.counter("revalidator_ingress_read_fills_refused_total",
                                  "Fills that could not be asked (queue full or draining)",
                                  labels)),
          db_queries(r.counter("revalidator_ingress_read_db_queries_total",
                               "Postgres queries made for rows the cache missed", labels)),
          db_shared(r.counter("revalidator_ingress_read_db_shared_total",
                              "Misses that shared another read's Postgres query (single flight)",
                              labels)),
          db_busy(r.counter("revalidator_ingress_read_db_errors_total",
                            "Misses Postgres could not answer, by reason",
                            with(labels, "reason=\"busy\""))),
          db_unavailable(r.counter("revalidator_ingress_read_db_errors_total",
                                   "Misses Postgres could not answer, by reason",
                                   with(labels, "reason=\"unavailable\""))),
          cache_bypassed(r.counter(
              "revalidator_ingress_read_cache_bypassed_total",
              "Row reads asked of Postgres because the cache could not be read", labels)) {
        for (const char* route : {"row", "list"}) {
            for (const char* result : kResults) {
                by.emplace(
                    std::pair<std::string, std::string>(route, result),
                    &r.counter("revalidator_ingress_reads_total", "Reads by route and result",
                               with(labels, std::string("route=\"") + route + "\",result=\"" +
                                                result + "\"")));
            }
        }
    }
    void count(const char* route, const char* result) { by.at({route, result})->inc(); }
    static std::string with(const std::string& labels, const std::string& more) {
        return labels.empty() ? more : labels + "," + more;
    }

    std::map<std::pair<std::string, std::string>, metrics::Counter*> by;
    metrics::Counter& fills;
    metrics::Counter& fills_refused;
    metrics::Counter& db_queries;
    metrics::Counter& db_shared;
    metrics::Counter& db_busy;
    metrics::Counter& db_unavailable;
    metrics::Counter& cache_bypassed;
};

Reads::Reads(ReadSettings settings, CacheReads& cache, ListStore& lists, DatabaseReads* database,
             RequestFill fill, metrics::Registry& registry)
    : settings_(std::move(settings)),
      cache_(cache),
      lists_(lists),
      database_(database),
      fill_(std::move(fill)),
      counters_(std::make_shared<Counters>(registry, settings_.labels)) {}

namespace {

std::string tag_for(const std::string& etag, const Conditions& c) {
    return c.gzip ? gzip_etag(etag) : etag;
}

bool revalidates(const Conditions& c, const std::string& tag) {
    return !c.if_none_match.empty() && none_match_hits(c.if_none_match, tag);
}

}  // namespace

ReadAnswer Reads::found(const char* route, const char* result, const Body& body,
                        const Conditions& c) {
    auto tag = tag_for(body.etag(), c);
    if (revalidates(c, tag)) {
        counters_->count(route, "not_modified");
        return {.status = 304, .etag = std::move(tag)};
    }
    counters_->count(route, result);
    return {.status = 200,
            .body = c.gzip ? body.gzipped() : body.bytes(),
            .gzip = c.gzip,
            .etag = std::move(tag)};
}

ReadAnswer Reads::unavailable(const char* route, const char* result, std::string error,
                              std::string detail) {
    counters_->count(route, result);
    return {.status = 503, .error = std::move(error), .detail = std::move(detail)};
}

bool Reads::should_ask(const std::string& key, Clock::time_point now) {
    std::lock_guard lock(asked_mu_);
    if (auto it = asked_.find(key); it != asked_.end()) {
        if (now - it->second < settings_.fill_wait) return false;
        it->second = now;
        return true;
    }
    if (asked_.size() >= kMaxAsked) {
        std::erase_if(asked_,
                      [&](const auto& entry) { return now - entry.second >= settings_.fill_wait; });
        if (asked_.size() >= kMaxAsked) return false;
    }
    asked_.emplace(key, now);
    return true;
}

void Reads::ask_worker(std::string_view id, const std::string& key) {
    if (!should_ask(key, Clock::now())) return;
    if (fill_(std::string(id))) {
        counters_->fills.inc();
    } else {
        counters_->fills_refused.inc();
    }
}

std::optional<ReadAnswer> Reads::from_database(std::string_view id, const std::string& key,
                                               const Conditions& c, bool fill) {
    auto value = flights_.run(
        key,
        [&] {
            counters_->db_queries.inc();
            auto v = database_->row(std::string(id));
            // The row exists and the cache lacks it: the worker fills it, so that the next read
            // is a hit. Asked by the query's maker only, once for all who share it.
            if (fill && v && *v) ask_worker(id, key);
            return v;
        },
        [&] { counters_->db_shared.inc(); });
    if (!value) {
        (value.error().kind == DatabaseError::Kind::Busy ? counters_->db_busy
                                                         : counters_->db_unavailable)
            .inc();
        return std::nullopt;
    }
    if (!*value) {
        counters_->count("row", "not_found");
        return ReadAnswer{.status = 404,
                          .error = "not_found",
                          .detail = "no row has the id '" + std::string(id) + "'"};
    }
    auto etag = etag_of(**value);
    return found("row", "database", Body(std::move(**value), std::move(etag)), c);
}

ReadAnswer Reads::not_a_key(std::string_view id, const std::string& why) {
    counters_->count("row", "not_found");
    return {.status = 404,
            .error = "not_found",
            .detail = "no row can have the id '" + std::string(id.substr(0, 64)) + "': it " + why};
}

void Reads::rows(std::span<RowRead> reads) {
    std::vector<std::string> keys(reads.size());
    std::vector<std::string> wanted;
    for (std::size_t i = 0; i < reads.size(); ++i) {
        auto key = item_key(settings_.prefix, reads[i].id);
        if (!key) {
            reads[i].answer = not_a_key(reads[i].id, key.error());
            continue;
        }
        keys[i] = *key;
        wanted.push_back(std::move(*key));
    }
    if (wanted.empty()) return;
    // A key left out is read again alone by row(), which tells a miss from an outage.
    const auto values = cache_.hits(wanted);
    for (std::size_t i = 0; i < reads.size(); ++i) {
        if (keys[i].empty()) continue;
        auto it = values.find(keys[i]);
        if (it == values.end()) continue;
        // Copied, not taken: a batch may ask for one row more than once.
        auto etag = etag_of(it->second);
        reads[i].answer = found("row", "hit", Body(it->second, std::move(etag)), reads[i].c);
    }
}

bool Reads::marked_absent(std::string_view id) {
    auto key = absent_key(settings_.prefix, id);
    if (!key) return false;
    auto marker = cache_.get(*key);
    // A marker that cannot be read is no answer: the read goes on as a miss.
    return marker && *marker;
}

ReadAnswer Reads::row(std::string_view id, const Conditions& c) {
    auto key = item_key(settings_.prefix, id);
    if (!key) return not_a_key(id, key.error());
    const auto deadline = Clock::now() + settings_.fill_wait;
    bool missed = false;
    while (true) {
        auto value = cache_.get(*key);
        if (!value) {
            // Read around a cache server that is down (docs/cache-layout.md, "Several servers").
            // No fill: the worker cannot write that server either, and owes the key already.
            if (database_) {
                counters_->cache_bypassed.inc();
                if (auto answer = from_database(id, *key, c, false)) return std::move(*answer);
            }
            return unavailable("row", "unavailable", "cache_unavailable",
                               "the cache could not be read (" + value.error() + ")");
        }
        if (*value) {
            auto etag = etag_of(**value);
            return found("row", missed ? "filled" : "hit",
                         Body(std::move(**value), std::move(etag)), c);
        }
        if (marked_absent(id)) {
            counters_->count("row", "not_found");
            return {.status = 404,
                    .error = "not_found",
                    .detail = "no row has the id '" + std::string(id) + "'"};
        }
        if (!missed) {
            missed = true;
            if (database_) {
                if (auto answer = from_database(id, *key, c, true)) return std::move(*answer);
            }
            ask_worker(id, *key);
        }
        const auto now = Clock::now();
        if (now >= deadline) break;
        std::this_thread::sleep_for(
            std::min<Clock::duration>(settings_.poll_every, deadline - now));
    }
    return unavailable("row", "not_cached", "not_cached",
                       "row '" + std::string(id) +
                           "' is not in the cache; the worker was asked to " +
                           "fill it, retry after a moment");
}

std::optional<std::string> Reads::list_version_in_cache() {
    auto version = cache_.get(version_key(settings_.prefix));
    if (!version || !*version || !is_list_version(**version)) return std::nullopt;
    return std::move(**version);
}

void Reads::lists(std::span<ListRead> reads) {
    const auto version = list_version_in_cache();
    if (!version) return;
    const std::string etag = "\"" + *version + "\"";
    std::shared_ptr<const Body> kept;
    for (auto& r : reads) {
        if (auto tag = tag_for(etag, r.c); revalidates(r.c, tag)) {
            counters_->count("list", "not_modified");
            r.answer = ReadAnswer{.status = 304, .etag = std::move(tag)};
            continue;
        }
        if (!kept) kept = lists_.find(settings_.prefix, *version);
        if (kept) r.answer = found("list", "hit", *kept, r.c);
    }
}

ReadAnswer Reads::list(const Conditions& c) {
    for (int attempt = 0; attempt < kListAttempts; ++attempt) {
        const auto version = list_version_in_cache();
        if (version) {
            if (auto tag = tag_for("\"" + *version + "\"", c); revalidates(c, tag)) {
                counters_->count("list", "not_modified");
                return {.status = 304, .etag = std::move(tag)};
            }
            if (auto kept = lists_.find(settings_.prefix, *version)) {
                return found("list", "hit", *kept, c);
            }
        }
        // One version is assembled at a time: readers of a new version wait for the first, then
        // share what it kept, instead of each holding a copy (docs/read-api.md, "Capacity").
        std::lock_guard assembling(assemble_mu_);
        if (version) {
            if (auto kept = lists_.find(settings_.prefix, *version)) {
                return found("list", "hit", *kept, c);
            }
        }
        if (auto answer = assemble_list(c)) return std::move(*answer);
    }
    return unavailable("list", "changing", "list_changing",
                       "the list changed while it was read, " + std::to_string(kListAttempts) +
                           " times; retry after a moment");
}

std::optional<ReadAnswer> Reads::assemble_list(const Conditions& c) {
    auto head = cache_.get(settings_.prefix);
    if (!head) {
        return unavailable("list", "unavailable", "cache_unavailable",
                           "the cache could not be read (" + head.error() + ")");
    }
    if (!*head) {
        return unavailable("list", "not_cached", "not_cached",
                           "the list is not in the cache; the worker writes it with its next "
                           "batch or resync, retry after a moment");
    }
    // The head's own digest, whatever the version said: the bytes kept are this head's.
    const std::string version = list_version(**head);
    if (auto kept = lists_.find(settings_.prefix, version)) return found("list", "hit", *kept, c);
    if (!manifest::is_manifest(**head)) {
        return found("list", "hit", *lists_.keep(settings_.prefix, version, std::move(**head)), c);
    }
    auto m = manifest::decode(**head);
    if (!m || !m->rejected.empty() || !m->bytes) {
        return unavailable("list", "unavailable", "list_unreadable",
                           "the list's manifest in the cache cannot be read; the worker "
                           "rewrites it with its next batch or resync");
    }
    // Part keys are never reused for other bytes (docs/cache-layout.md), so the manifest names
    // the content: its tag answers a revalidation without reading the parts.
    if (auto tag = tag_for("\"" + version + "\"", c); revalidates(c, tag)) {
        counters_->count("list", "not_modified");
        return ReadAnswer{.status = 304, .etag = std::move(tag)};
    }
    auto parts = cache_.get_many(m->parts);
    if (!parts) {
        return unavailable("list", "unavailable", "cache_unavailable",
                           "the cache could not be read (" + parts.error() + ")");
    }
    std::string text;
    text.reserve(*m->bytes);
    for (const auto& k : m->parts) {
        auto it = parts->find(k);
        if (it == parts->end()) return std::nullopt;  // gone: the list was replaced meanwhile
        text += it->second;
    }
    if (text.size() != *m->bytes) return std::nullopt;
    return found("list", "hit", *lists_.keep(settings_.prefix, version, std::move(text)), c);
}

}  // namespace revalidator::ingress
