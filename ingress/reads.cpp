#include "reads.hpp"

#include <map>
#include <thread>

#include "cache_key.hpp"
#include "etag.hpp"
#include "manifest.hpp"

namespace revalidator::ingress {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kListAttempts = 3;
// Past this many rows asked and not yet expired, a miss waits without asking: a storm of misses
// on distinct ids cannot grow the map without bound (the worker's resync heals those rows).
constexpr std::size_t kMaxAsked = 100'000;

constexpr const char* kResults[] = {"hit",        "filled",      "not_modified", "not_found",
                                    "not_cached", "unavailable", "changing"};

}  // namespace

struct Reads::Counters {
    explicit Counters(metrics::Registry& r)
        : fills(r.counter("revalidator_ingress_read_fills_total",
                          "Rows the read routes asked the worker to fill after a miss")),
          fills_refused(r.counter("revalidator_ingress_read_fills_refused_total",
                                  "Fills that could not be asked (queue full or draining)")) {
        for (const char* route : {"row", "list"}) {
            for (const char* result : kResults) {
                by.emplace(
                    std::pair<std::string, std::string>(route, result),
                    &r.counter("revalidator_ingress_reads_total", "Reads by route and result",
                               std::string("route=\"") + route + "\",result=\"" + result + "\""));
            }
        }
    }
    void count(const char* route, const char* result) { by.at({route, result})->inc(); }

    std::map<std::pair<std::string, std::string>, metrics::Counter*> by;
    metrics::Counter& fills;
    metrics::Counter& fills_refused;
};

Reads::Reads(ReadSettings settings, CacheReads& cache, RequestFill fill,
             metrics::Registry& registry)
    : settings_(std::move(settings)),
      cache_(cache),
      fill_(std::move(fill)),
      counters_(std::make_shared<Counters>(registry)) {}

ReadAnswer Reads::found(const char* route, const char* result, std::string body, std::string etag,
                        std::string_view if_none_match) {
    if (!if_none_match.empty() && none_match_hits(if_none_match, etag)) {
        counters_->count(route, "not_modified");
        return {.status = 304, .etag = std::move(etag)};
    }
    counters_->count(route, result);
    return {.status = 200, .body = std::move(body), .etag = std::move(etag)};
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

ReadAnswer Reads::row(std::string_view id, std::string_view if_none_match) {
    auto key = item_key(settings_.prefix, id);
    if (!key) {
        counters_->count("row", "not_found");
        return {.status = 404,
                .error = "not_found",
                .detail = "no row can have the id '" + std::string(id.substr(0, 64)) + "': it " +
                          key.error()};
    }
    const auto deadline = Clock::now() + settings_.fill_wait;
    bool asked = false;
    while (true) {
        auto value = cache_.get(*key);
        if (!value) {
            return unavailable("row", "unavailable", "cache_unavailable",
                               "the cache could not be read (" + value.error() + ")");
        }
        if (*value) {
            auto etag = etag_of(**value);
            return found("row", asked ? "filled" : "hit", std::move(**value), std::move(etag),
                         if_none_match);
        }
        const auto now = Clock::now();
        if (!asked) {
            asked = true;
            if (should_ask(*key, now)) {
                if (fill_(std::string(id))) {
                    counters_->fills.inc();
                } else {
                    counters_->fills_refused.inc();
                }
            }
        }
        if (now >= deadline) break;
        std::this_thread::sleep_for(
            std::min<Clock::duration>(settings_.poll_every, deadline - now));
    }
    return unavailable("row", "not_cached", "not_cached",
                       "row '" + std::string(id) +
                           "' is not in the cache; the worker was asked to " +
                           "fill it, retry after a moment");
}

ReadAnswer Reads::list(std::string_view if_none_match) {
    for (int attempt = 0; attempt < kListAttempts; ++attempt) {
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
        if (!manifest::is_manifest(**head)) {
            auto etag = etag_of(**head);
            return found("list", "hit", std::move(**head), std::move(etag), if_none_match);
        }
        auto m = manifest::decode(**head);
        if (!m || !m->rejected.empty() || !m->bytes) {
            return unavailable("list", "unavailable", "list_unreadable",
                               "the list's manifest in the cache cannot be read; the worker "
                               "rewrites it with its next batch or resync");
        }
        // Part keys are never reused for other bytes (docs/cache-layout.md), so the manifest
        // names the content: its tag answers a revalidation without reading the parts.
        auto etag = etag_of(**head);
        if (!if_none_match.empty() && none_match_hits(if_none_match, etag)) {
            return found("list", "hit", {}, std::move(etag), if_none_match);
        }
        auto parts = cache_.get_many(m->parts);
        if (!parts) {
            return unavailable("list", "unavailable", "cache_unavailable",
                               "the cache could not be read (" + parts.error() + ")");
        }
        std::string text;
        text.reserve(*m->bytes);
        bool whole = true;
        for (const auto& k : m->parts) {
            auto it = parts->find(k);
            if (it == parts->end()) {
                whole = false;
                break;
            }
            text += it->second;
        }
        if (whole && text.size() == *m->bytes) {
            return found("list", "hit", std::move(text), std::move(etag), {});
        }
    }
    return unavailable("list", "changing", "list_changing",
                       "the list changed while it was read, " + std::to_string(kListAttempts) +
                           " times; retry after a moment");
}

}  // namespace revalidator::ingress
