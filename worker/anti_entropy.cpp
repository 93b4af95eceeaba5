#include "anti_entropy.hpp"

#include <algorithm>
#include <memory>
#include <unordered_map>

#include <openssl/evp.h>

#include "cache_key.hpp"
#include "log.hpp"

namespace revalidator::worker {

namespace {

// After a step fails, the next waits at least this long: a step against a frozen cache server
// takes its timeouts, and the batches behind it should not wait that long again at once.
constexpr std::chrono::seconds kFailurePause{5};

}  // namespace

std::string md5_hex(std::string_view bytes) {
    // One context per thread, reused: the pass digests thousands of values a second.
    thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                             EVP_MD_CTX_free);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), digest, &size) != 1) {
        throw std::runtime_error("md5 is not available in this OpenSSL");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(2 * size, '0');
    for (unsigned int i = 0; i < size; ++i) {
        out[2 * i] = kHex[digest[i] >> 4];
        out[2 * i + 1] = kHex[digest[i] & 0xf];
    }
    return out;
}

std::optional<std::string> listed_row_id(std::string_view prefix, std::string_view key) {
    if (key.size() <= prefix.size() || key.substr(0, prefix.size()) != prefix ||
        key[prefix.size()] != '/') {
        return std::nullopt;
    }
    std::string id(key.substr(prefix.size() + 1));
    if (id.find('/') != std::string::npos) return std::nullopt;
    auto own = item_key(prefix, id);
    if (!own || *own != key) return std::nullopt;
    return id;
}

AntiEntropy::AntiEntropy(DigestSource& source, CacheSink& cache, Applier& applier,
                         KeyLister* lister, AntiEntropyConfig cfg, metrics::Registry& r)
    : source_(source),
      cache_(cache),
      applier_(applier),
      lister_(lister),
      cfg_(std::move(cfg)),
      pass_started_(Clock::now()),
      previous_pass_(
          std::make_shared<std::atomic<Clock::rep>>(pass_started_.time_since_epoch().count())),
      rows_(r.counter("revalidator_worker_verify_rows_total",
                      "Rows compared with Postgres by the anti-entropy pass")),
      passes_(r.counter("revalidator_worker_verify_passes_total",
                        "Anti-entropy passes over the whole table completed")),
      failures_(r.counter("revalidator_worker_verify_failures_total",
                          "Anti-entropy steps that failed (Postgres or the cache away)")),
      missing_(r.counter("revalidator_worker_divergences_total",
                         "Differences between the cache and Postgres found, and healed, by the "
                         "anti-entropy pass",
                         R"(kind="missing")")),
      wrong_(r.counter("revalidator_worker_divergences_total", "", R"(kind="wrong")")),
      list_rows_(r.counter("revalidator_worker_divergences_total", "", R"(kind="list_row")")),
      vanished_(r.counter("revalidator_worker_divergences_total", "", R"(kind="vanished")")),
      stray_(r.counter("revalidator_worker_divergences_total", "", R"(kind="stray_key")")),
      list_(r.counter("revalidator_worker_divergences_total", "", R"(kind="list")")),
      seconds_(r.histogram("revalidator_worker_verify_step_seconds",
                           "Time of one anti-entropy step (one slice)",
                           metrics::latency_buckets())) {
    r.gauge_fn("revalidator_worker_verify_oldest_seconds",
               "Seconds since the slice verified longest ago was verified (the active worker)",
               [oldest = previous_pass_] {
                   const Clock::duration age =
                       Clock::now().time_since_epoch() - Clock::duration(oldest->load());
                   return std::chrono::duration<double>(age).count();
               });
}

void AntiEntropy::found(metrics::Counter& kind, const std::string& pk, Repairs& out) {
    kind.inc();
    out.pks.push_back(pk);
}

Repairs AntiEntropy::step(Clock::time_point now) {
    Repairs out;
    if (!enabled()) return out;
    const auto start = Clock::now();
    bool ended = false;
    try {
        const auto rows = source_.digests(after_, cfg_.slice_rows);
        const bool last = rows.size() < cfg_.slice_rows;
        slice(rows, last, out);
        compare_next_part(out);
        rows_.inc(rows.size());
        if (last) {
            end_pass(out);
            ended = true;
        } else {
            after_ = rows.back().pk;
        }
        if (failing_) log::info("anti-entropy steps work again");
        failing_ = false;
    } catch (const std::exception& e) {
        failures_.inc();
        if (!failing_) {
            log::warn("anti-entropy step failed; retrying each step until one works",
                      {{"error", e.what()}});
        }
        failing_ = true;
    }
    seconds_.observe(std::chrono::duration<double>(Clock::now() - start).count());
    // Paced from the step's start: a slow step (a busy machine) does not slow the pass further.
    due_ = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                       static_cast<double>(cfg_.slice_rows) / cfg_.rows_per_second));
    if (failing_) due_ = std::max(due_, now + kFailurePause);
    if (ended) {
        const Clock::time_point began{Clock::duration(previous_pass_->load())};
        due_ = std::max(due_, began + cfg_.min_pass);
    }
    if (!out.empty()) {
        log::info("anti-entropy found differences; healing",
                  {{"rows", out.pks.size()}, {"list", out.list}});
    }
    log::debug("anti-entropy step",
               {{"after", after_.value_or("")},
                {"found", out.pks.size()},
                {"seconds", std::chrono::duration<double>(Clock::now() - start).count()}});
    return out;
}

void AntiEntropy::slice(const std::vector<RowDigest>& rows, bool last, Repairs& out) {
    std::vector<std::string> keys;
    std::vector<const RowDigest*> keyed;
    keys.reserve(rows.size());
    keyed.reserve(rows.size());
    for (const auto& row : rows) {
        accounted_.insert(row.pk);
        auto key = item_key(cfg_.prefix, row.pk);
        if (!key) continue;  // such a row is never cached (docs/cache-layout.md)
        keys.push_back(std::move(*key));
        keyed.push_back(&row);
    }
    auto cached = cache_.get_many(keys);
    const auto unanswered =
        std::count_if(cached.begin(), cached.end(), [](const Lookup& l) { return !l.reachable; });
    if (unanswered > 0) {
        throw std::runtime_error("the cache did not answer for " + std::to_string(unanswered) +
                                 " of " + std::to_string(keys.size()) + " keys");
    }
    // The cached value of each row, by pk, once it is known to be right: the list's copy of a row
    // is then compared by its bytes rather than digested again.
    std::unordered_map<std::string_view, std::string_view> right;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (!cached[i].value) {
            found(missing_, keyed[i]->pk, out);
        } else if (md5_hex(*cached[i].value) != keyed[i]->md5) {
            found(wrong_, keyed[i]->pk, out);
        } else {
            right.emplace(keyed[i]->pk, *cached[i].value);
        }
    }

    const auto listed = applier_.list().rows_between(
        after_, last ? std::nullopt : std::optional<std::string>(rows.back().pk));
    if (!listed) return;
    std::unordered_map<std::string_view, std::string_view> held;
    for (const auto& [pk, json] : *listed) held.emplace(pk, json);
    for (const auto& row : rows) {
        auto it = held.find(row.pk);
        if (it == held.end()) {
            found(list_rows_, row.pk, out);
            continue;
        }
        auto known = right.find(row.pk);
        const bool same =
            known != right.end() ? known->second == it->second : md5_hex(it->second) == row.md5;
        if (!same) found(list_rows_, row.pk, out);
        held.erase(it);
    }
    for (const auto& [pk, _] : held) {
        found(vanished_, std::string(pk), out);
        accounted_.emplace(pk);
    }
}

void AntiEntropy::end_pass(Repairs& out) {
    unaccounted_keys(out);
    compare_head(out);
    accounted_.clear();
    after_.reset();
    passes_.inc();
    previous_pass_->store(pass_started_.time_since_epoch().count());
    pass_started_ = Clock::now();
}

void AntiEntropy::unaccounted_keys(Repairs& out) {
    std::vector<std::string> written, listed;
    for (const auto& pk : applier_.cached_pks()) {
        if (!accounted_.count(pk)) written.push_back(pk);
    }
    if (auto ids = listed_ids()) {
        for (auto& pk : *ids) {
            if (!accounted_.count(pk)) listed.push_back(std::move(pk));
        }
    }
    if (written.empty() && listed.empty()) return;
    std::vector<std::string> ask = written;
    ask.insert(ask.end(), listed.begin(), listed.end());
    std::sort(ask.begin(), ask.end());
    ask.erase(std::unique(ask.begin(), ask.end()), ask.end());
    std::unordered_set<std::string> exist;
    for (auto& row : source_.digests_of(ask)) exist.insert(std::move(row.pk));
    std::unordered_set<std::string_view> known(written.begin(), written.end());
    for (const auto& pk : written) {
        if (!exist.count(pk)) found(vanished_, pk, out);
    }
    for (const auto& pk : listed) {
        if (exist.count(pk) || known.count(pk)) continue;
        // No row has this key, and the worker never wrote it: a crash's leftover, another
        // writer's, or another spelling of an id ("007"), which no batch would ever name.
        auto key = item_key(cfg_.prefix, pk);
        if (cache_.remove(*key) != WriteStatus::Ok) continue;
        stray_.inc();
        log::info("key no row has deleted", {{"key", key->substr(0, 64)}});
    }
}

std::optional<std::vector<std::string>> AntiEntropy::listed_ids() {
    if (!lister_) return std::nullopt;
    std::optional<std::vector<std::string>> ids;
    if (listing_.valid()) {
        if (listing_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
            return std::nullopt;  // still listing: the next pass takes it
        }
        ids = listing_.get();
    }
    listing_ = std::async(std::launch::async, [lister = lister_, prefix = cfg_.prefix] {
        auto keys = lister->keys(prefix + "/");
        if (!keys) return std::optional<std::vector<std::string>>();
        std::vector<std::string> found;
        for (const auto& key : *keys) {
            if (auto id = listed_row_id(prefix, key)) found.push_back(std::move(*id));
        }
        return std::optional<std::vector<std::string>>(std::move(found));
    });
    return ids;
}

void AntiEntropy::compare_head(Repairs& out) {
    const auto expected = applier_.list().in_cache();
    if (!expected) return;
    const Lookup head = cache_.get(cfg_.prefix);
    if (head.reachable && head.value != expected->head) list_differs(out);
}

void AntiEntropy::compare_next_part(Repairs& out) {
    const auto expected = applier_.list().in_cache();
    if (!expected || expected->parts.empty()) return;
    const auto& part = expected->parts[next_part_++ % expected->parts.size()];
    const Lookup got = cache_.get(part.key);
    if (got.reachable && (!got.value || *got.value != part.value)) list_differs(out);
}

void AntiEntropy::list_differs(Repairs& out) {
    if (out.list) return;
    list_.inc();
    applier_.list().distrust_cache();
    out.list = true;
}

}  // namespace revalidator::worker
