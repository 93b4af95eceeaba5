#include "anti_entropy.hpp"

#include <algorithm>
#include <memory>
#include <unordered_map>

#include <sys/resource.h>
#include <unistd.h>

#include "cache/cache_key.hpp"
#include "cache/list_version.hpp"
#include "cache/manifest.hpp"
#include "runtime/clock.hpp"
#include "runtime/log.hpp"

namespace revalidator::worker {

namespace {

// After a step fails, the next waits at least this long: a step against a frozen cache server
// takes its timeouts, and the batches behind it should not wait that long again at once.
constexpr std::chrono::seconds kFailurePause{5};
// While a reading is under way, the loop looks for its end this often.
constexpr std::chrono::milliseconds kReadingPoll{1};
// Row keys found wrong whose healing is timed at once; beyond, a key is counted but not timed.
constexpr std::size_t kMaxWrongTracked = 100'000;

// From a batch's time (a webhook that arrived late) to a writer that keeps overwriting the cache
// or a cache that refuses writes for minutes.
std::vector<double> age_buckets() {
    return {0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600};
}

// The pass's threads run at a lower priority than the loop: on a machine short of cores, its md5s
// and parsing yield to batches rather than delay them. Called first thing on each of them; a
// failure (a sandbox that forbids it) leaves the default priority, which costs only latency.
void yield_to_batches() {
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
}

// Observes the time from its construction to its destruction, however the scope is left.
class Timed {
  public:
    explicit Timed(metrics::Histogram& h) : h_(h), began_(std::chrono::steady_clock::now()) {}
    ~Timed() {
        h_.observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - began_).count());
    }
    Timed(const Timed&) = delete;
    Timed& operator=(const Timed&) = delete;

  private:
    metrics::Histogram& h_;
    std::chrono::steady_clock::time_point began_;
};

template <class T>
bool done(const std::future<T>& reading) {
    // A deferred reading (AntiEntropyConfig::background off) runs when its result is taken.
    return reading.wait_for(std::chrono::seconds(0)) != std::future_status::timeout;
}

}  // namespace

AntiEntropy::AntiEntropy(PassReaders readers, CacheSink& cache, Applier& applier, KeyLister* lister,
                         AntiEntropyConfig cfg, metrics::Registry& r)
    : readers_(readers),
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
      view_(r.counter("revalidator_worker_divergences_total", "", R"(kind="view")")),
      keys_compared_(r.counter("revalidator_worker_verify_keys_compared_total",
                               "Row keys the anti-entropy pass compared with Postgres")),
      keys_wrong_(r.counter("revalidator_worker_verify_keys_wrong_total",
                            "Row keys the anti-entropy pass found to differ from Postgres "
                            "(missing, other bytes, or a row no longer there)")),
      wrong_age_(r.histogram("revalidator_worker_verify_wrong_age_seconds",
                             "For each row key the anti-entropy pass found wrong, time from when "
                             "it first found it wrong until a batch wrote it right",
                             age_buckets())),
      seconds_(r.histogram("revalidator_worker_verify_step_seconds",
                           "Time the worker's loop spent at once on the anti-entropy pass (what a "
                           "batch may wait for)",
                           metrics::latency_buckets())),
      read_seconds_(r.histogram("revalidator_worker_verify_read_seconds",
                                "Time of one reading of the anti-entropy pass (a slice's digests "
                                "and cached values, or a pass's end), on the pass's own thread",
                                metrics::latency_buckets())) {
    // Kept on the steady clock, which a change of the wall clock cannot move; given as the wall
    // time it was, so that Prometheus computes the age (time() - x) at any later moment.
    r.gauge_fn("revalidator_worker_verify_oldest_timestamp_seconds",
               "When the slice verified longest ago was verified, in unix seconds",
               [oldest = previous_pass_] {
                   const Clock::duration age =
                       Clock::now().time_since_epoch() - Clock::duration(oldest->load());
                   return static_cast<double>(unix_micros()) / 1e6 -
                          std::chrono::duration<double>(age).count();
               });
}

// The futures of std::async wait for their readings; the listing's too.
AntiEntropy::~AntiEntropy() = default;

void AntiEntropy::found(metrics::Counter& kind, const std::string& pk, Repairs& out) {
    kind.inc();
    out.pks.push_back(pk);
}

void AntiEntropy::key_wrong(metrics::Counter& kind, const std::string& pk, Repairs& out,
                            Clock::time_point now) {
    found(kind, pk, out);
    keys_wrong_.inc();
    if (wrong_since_.size() < kMaxWrongTracked) wrong_since_.try_emplace(pk, now);
}

void AntiEntropy::applied(const Batch& batch, const Outcome& outcome, Clock::time_point now) {
    if (wrong_since_.empty() || outcome.retry.full) return;
    const auto healed = [&](const std::string& pk) {
        auto it = wrong_since_.find(pk);
        if (it == wrong_since_.end() || outcome.retry.received.count(pk)) return;
        wrong_age_.observe(std::chrono::duration<double>(now - it->second).count());
        wrong_since_.erase(it);
    };
    if (batch.full) {
        std::vector<std::string> pks;
        pks.reserve(wrong_since_.size());
        for (const auto& [pk, _] : wrong_since_) pks.push_back(pk);
        for (const auto& pk : pks) healed(pk);
        return;
    }
    for (const auto& pk : batch.pks) healed(pk);
}

void AntiEntropy::forget_found() {
    wrong_since_.clear();
}

Repairs AntiEntropy::step(Clock::time_point now) {
    Repairs out;
    if (!enabled()) return out;
    const auto began = Clock::now();
    const auto spent = [&] {
        seconds_.observe(std::chrono::duration<double>(Clock::now() - began).count());
    };
    const bool ending = ending_;
    try {
        if (!slice_reading_.valid() && !end_reading_.valid()) {
            start();
            if (cfg_.background) {
                spent();
                due_ = now + kReadingPoll;
                return out;
            }
        }
        const bool ready = slice_reading_.valid() ? done(slice_reading_) : done(end_reading_);
        if (!ready) {
            due_ = now + kReadingPoll;
            return out;
        }
        if (slice_reading_.valid()) {
            compare(slice_reading_.get(), out, now);
        } else {
            end_pass(end_reading_.get(), out, now);
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
        // The end's reading took the pass's account of its rows with it: the pass starts over.
        if (ending) {
            ending_ = false;
            after_.reset();
            steps_ = 0;
        }
    }
    spent();
    // Paced from the reading's start: a slow step (a busy machine) does not slow the pass further.
    due_ = reading_started_ +
           std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
               static_cast<double>(cfg_.slice_rows) / cfg_.rows_per_second));
    if (failing_) due_ = std::max(due_, now + kFailurePause);
    if (ending && !ending_ && !failing_) {
        const Clock::time_point began_pass{Clock::duration(previous_pass_->load())};
        due_ = std::max(due_, began_pass + cfg_.min_pass);
    }
    if (!out.empty()) {
        log::info("anti-entropy found differences; healing",
                  {{"rows", out.pks.size()}, {"list", out.list}});
    }
    log::debug("anti-entropy step",
               {{"after", after_.value_or("")},
                {"found", out.pks.size()},
                {"seconds", std::chrono::duration<double>(Clock::now() - began).count()}});
    return out;
}

void AntiEntropy::start() {
    reading_started_ = Clock::now();
    const auto launch = cfg_.background ? std::launch::async : std::launch::deferred;
    if (!ending_) {
        std::optional<std::string> part;
        auto parts = applier_.list().parts_in_cache();
        // Each part once a pass, spread over its steps: as many bytes of list as of rows. (A part
        // a step would read a 60 MB list three times a pass at 100k rows.)
        const std::size_t every = parts && !parts->empty()
                                      ? std::max<std::size_t>(1, last_pass_steps_ / parts->size())
                                      : 1;
        if (parts && !parts->empty() && steps_ % every == 0) {
            part = (*parts)[next_part_++ % parts->size()].key;
        }
        ++steps_;
        slice_reading_ = std::async(
            launch, [this, after = after_, part = std::move(part), fields = log::scope_fields()] {
                const log::Scope scope(fields);
                if (cfg_.background) yield_to_batches();
                return read_slice(after, part);
            });
        return;
    }
    // The keys the worker wrote, copied (a batch may change them while the reading runs), and the
    // pass's account, which is done with.
    std::vector<std::string> written(applier_.cached_pks().begin(), applier_.cached_pks().end());
    end_reading_ =
        std::async(launch, [this, accounted = std::move(accounted_), written = std::move(written),
                            listed = listed_ids(), fields = log::scope_fields()]() mutable {
            const log::Scope scope(fields);
            if (cfg_.background) yield_to_batches();
            // Moved in, so that a hundred thousand keys are freed here, not where the loop takes
            // the result (the task is destroyed with the future's state).
            const auto a = std::move(accounted);
            const auto w = std::move(written);
            const auto l = std::move(listed);
            return read_end(a, w, l);
        });
    accounted_ = {};
    // The table's size from the last pass: growing the set step by step would rehash it, on the
    // loop's thread, a dozen times a pass.
    accounted_.reserve(applier_.cached_pks().size());
}

AntiEntropy::SliceReading AntiEntropy::read_slice(const std::optional<std::string>& after,
                                                  const std::optional<std::string>& part_key) {
    const Timed timed(read_seconds_);
    SliceReading r;
    r.after = after;
    r.rows = readers_.source.digests(after, cfg_.slice_rows);
    r.last = r.rows.size() < cfg_.slice_rows;
    std::vector<std::string> keys;
    std::vector<const RowDigest*> keyed;
    keys.reserve(r.rows.size());
    keyed.reserve(r.rows.size());
    for (const auto& row : r.rows) {
        auto key = item_key(cfg_.prefix, row.pk);
        if (!key) continue;  // such a row is never cached (docs/cache-layout.md)
        keys.push_back(std::move(*key));
        keyed.push_back(&row);
    }
    auto cached = readers_.cache.get_many(keys);
    const auto unanswered =
        std::count_if(cached.begin(), cached.end(), [](const Lookup& l) { return !l.reachable; });
    if (unanswered > 0) {
        throw std::runtime_error("the cache did not answer for " + std::to_string(unanswered) +
                                 " of " + std::to_string(keys.size()) + " keys");
    }
    r.keys = keys.size();
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const std::string& pk = keyed[i]->pk;
        if (!cached[i].value) {
            r.missing.push_back(pk);
        } else if (md5_hex(*cached[i].value) != keyed[i]->md5) {
            r.wrong.push_back(pk);
        } else {
            r.right.emplace(pk, std::move(*cached[i].value));
        }
    }
    if (part_key) {
        r.part_key = part_key;
        r.part = readers_.cache.get(*part_key);
    }
    return r;
}

void AntiEntropy::compare(SliceReading r, Repairs& out, Clock::time_point now) {
    for (const auto& row : r.rows) accounted_.insert(row.pk);
    for (const auto& pk : r.missing) key_wrong(missing_, pk, out, now);
    for (const auto& pk : r.wrong) key_wrong(wrong_, pk, out, now);
    compare_part(r, out);
    rows_.inc(r.rows.size());
    keys_compared_.inc(r.keys);
    if (r.last) {
        ending_ = true;
    } else {
        after_ = r.rows.back().pk;
    }

    const auto listed = applier_.list().rows_between(
        r.after, r.last ? std::nullopt : std::optional<std::string>(r.rows.back().pk));
    if (!listed) return;
    std::unordered_map<std::string_view, std::string_view> held;
    for (const auto& [pk, json] : *listed) held.emplace(pk, json);
    for (const auto& row : r.rows) {
        auto it = held.find(row.pk);
        if (it == held.end()) {
            found(list_rows_, row.pk, out);
            continue;
        }
        auto known = r.right.find(row.pk);
        const bool same =
            known != r.right.end() ? known->second == it->second : md5_hex(it->second) == row.md5;
        if (!same) found(list_rows_, row.pk, out);
        held.erase(it);
    }
    for (const auto& [pk, _] : held) {
        std::string gone(pk);
        // A row the list holds and Postgres no longer has: its key too, if the worker wrote it.
        if (applier_.cached_pks().count(gone)) {
            keys_compared_.inc();
            key_wrong(vanished_, gone, out, now);
        } else {
            found(vanished_, gone, out);
        }
        accounted_.emplace(pk);
    }
}

AntiEntropy::EndReading AntiEntropy::read_end(
    const std::unordered_set<std::string>& accounted, const std::vector<std::string>& written,
    const std::optional<std::vector<std::string>>& listed) {
    const Timed timed(read_seconds_);
    std::vector<std::string_view> unseen_written, unseen_listed;
    for (const auto& pk : written) {
        if (!accounted.count(pk)) unseen_written.push_back(pk);
    }
    if (listed) {
        for (const auto& pk : *listed) {
            if (!accounted.count(pk)) unseen_listed.push_back(pk);
        }
    }
    EndReading r;
    r.keys = unseen_written.size();
    if (unseen_written.empty() && unseen_listed.empty()) return r;
    std::vector<std::string> ask(unseen_written.begin(), unseen_written.end());
    ask.insert(ask.end(), unseen_listed.begin(), unseen_listed.end());
    std::sort(ask.begin(), ask.end());
    ask.erase(std::unique(ask.begin(), ask.end()), ask.end());
    std::unordered_set<std::string> exist;
    for (auto& row : readers_.source.digests_of(ask)) exist.insert(std::move(row.pk));
    const std::unordered_set<std::string_view> known(unseen_written.begin(), unseen_written.end());
    for (const auto pk : unseen_written) {
        if (!exist.count(std::string(pk))) r.vanished.emplace_back(pk);
    }
    std::vector<std::string> candidates, keys;
    for (const auto pk : unseen_listed) {
        if (exist.count(std::string(pk)) || known.count(pk)) continue;
        // "/articles/featured" is no key of a bigint-keyed table: whatever holds it is not ours.
        if (!readers_.source.spells_key(std::string(pk))) continue;
        candidates.emplace_back(pk);
        keys.push_back(*item_key(cfg_.prefix, pk));
    }
    r.keys += candidates.size();
    // The listing is older than the pass's end: a key a batch has deleted since (its row's DELETE
    // announced) is listed still, and is no stray. A key that holds a list (a JSON array, or a
    // manifest of parts) is another collection's, whose prefix has the shape of this one's row
    // key; a row's value is never one.
    const auto held = readers_.cache.get_many(keys);
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        const auto& value = held[i].value;
        if (!value || value->starts_with('[') || manifest::decode(*value)) continue;
        r.strays.push_back(std::move(candidates[i]));
    }
    return r;
}

void AntiEntropy::end_pass(EndReading r, Repairs& out, Clock::time_point now) {
    keys_compared_.inc(r.keys);
    for (const auto& pk : r.vanished) key_wrong(vanished_, pk, out, now);
    for (const auto& pk : r.strays) {
        // No row has this key, and the worker had not written it: a crash's leftover, another
        // writer's, or another spelling of an id ("007"), which no batch would ever name. Unless a
        // batch wrote it since the reading (its row inserted meanwhile).
        if (applier_.cached_pks().count(pk)) continue;
        keys_wrong_.inc();
        auto key = item_key(cfg_.prefix, pk);
        if (cache_.remove(*key) != WriteStatus::Ok) continue;
        stray_.inc();
        log::info("key no row has deleted", {{"key", key->substr(0, 64)}});
    }
    compare_head(out);
    compare_views(out);
    last_pass_steps_ = steps_;
    steps_ = 0;
    ending_ = false;
    after_.reset();
    passes_.inc();
    previous_pass_->store(pass_started_.time_since_epoch().count());
    pass_started_ = Clock::now();
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
    listing_ = std::async(std::launch::async,
                          [lister = lister_, prefix = cfg_.prefix, fields = log::scope_fields()] {
                              const log::Scope scope(fields);
                              yield_to_batches();
                              auto keys = lister->keys(prefix + "/");
                              if (!keys) return std::optional<std::vector<std::string>>();
                              std::vector<std::string> found;
                              for (const auto& key : *keys) {
                                  if (auto id = listed_row_id(prefix, key))
                                      found.push_back(std::move(*id));
                              }
                              return std::optional<std::vector<std::string>>(std::move(found));
                          });
    return ids;
}

std::optional<bool> AntiEntropy::holds_as_written(const std::string& key, const std::string& head) {
    const Lookup got = cache_.get(key);
    if (!got.reachable) return std::nullopt;
    if (got.value != head) return false;
    const Lookup version = cache_.get(version_key(key));
    if (!version.reachable) return std::nullopt;
    return version.value == list_version(head);
}

void AntiEntropy::compare_head(Repairs& out) {
    const auto expected = applier_.list().in_cache();
    if (!expected) return;
    if (holds_as_written(cfg_.prefix, expected->head) == false) list_differs(out);
}

void AntiEntropy::compare_views(Repairs& out) {
    for (std::size_t i = 0; i < applier_.view_count(); ++i) {
        List& view = applier_.view(i);
        const auto expected = view.in_cache();
        if (!expected) continue;
        if (holds_as_written(applier_.view_key(i), expected->head) != false) continue;
        view_.inc();
        log::info("view differs from what was written", {{"key", applier_.view_key(i)}});
        view.distrust_cache();
        out.list = true;  // the next batch writes the views with the list
    }
}

void AntiEntropy::compare_part(const SliceReading& r, Repairs& out) {
    if (!r.part_key || !r.part.reachable) return;
    // A part key never names other bytes (list/layout.hpp): if the list still names this one, the
    // value read must be the one written, however many batches ran since the reading.
    const auto parts = applier_.list().parts_in_cache();
    if (!parts) return;
    for (const auto& part : *parts) {
        if (part.key != *r.part_key) continue;
        if (r.part.value == part.value) return;
        list_.inc();
        applier_.list().distrust_part(part.key);
        out.list = true;
        return;
    }
}

void AntiEntropy::list_differs(Repairs& out) {
    if (out.list) return;
    list_.inc();
    applier_.list().distrust_cache();
    out.list = true;
}

}  // namespace revalidator::worker
