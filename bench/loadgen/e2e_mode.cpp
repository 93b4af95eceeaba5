// `loadgen e2e`: the whole path, as a database drives it. Rows really change in Postgres
// (UPDATE ... SET version = version + 1), and each change is announced by the webhook Supabase
// would send, built from the row itself. Either a burst (one bulk UPDATE, then every webhook as
// fast as the connections allow, like a bulk UPDATE firing its triggers) or a steady rate (one
// row committed, then its webhook). It reports:
//   - ack latency of the webhooks, and every error by kind;
//   - staleness: ack until Memcached shows the row's new value, for a sample of the rows;
//   - convergence: time from the last ack until every changed key and the list are correct;
//   - list rebuilds and events, from the worker's metrics;
//   - a final full check of every key against Postgres.
#include <algorithm>
#include <atomic>
#include <future>
#include <iostream>
#include <limits>
#include <thread>

#include "consistency.hpp"
#include "deployment.hpp"
#include "feeds.hpp"
#include "format.hpp"
#include "metrics_page.hpp"
#include "modes.hpp"
#include "nines.hpp"
#include "percentiles.hpp"
#include "staleness.hpp"
#include "tally.hpp"
#include "webhook.hpp"

namespace loadgen {

namespace {

using namespace std::chrono;

struct E2eOptions : Deployment {
    std::size_t count = 10'000;
    double rate = 0;
    int connections = 64;
    int timeout_ms = 1000;
    std::size_t sample = 500;
    int poll_ms = 2;
    double max_seconds = 120;
    double settle_s = 30;
    double wait_consistent_s = 60;
    std::string json;
};

std::optional<double> metric(const std::string& url, const char* name) {
    if (url.empty()) return std::nullopt;
    return MetricsPage::fetch(url).value(name);
}

nlohmann::json delta(std::optional<double> before, std::optional<double> after) {
    if (!before || !after) return nullptr;
    return *after - *before;
}

// What the webhooks announce; filled before each webhook is handed to the engine.
struct Plan {
    std::vector<std::string> ids;
    std::vector<std::string> requests;  // sized once: the engine holds pointers into it
    std::vector<std::string> expected;  // each row's new to_jsonb text
    std::size_t stride = 1;             // every stride-th row is sampled for staleness

    void announce(std::size_t i, const Change& c, const E2eOptions& o, const Url& url,
                  StalenessSampler& sampler) {
        requests[i] =
            post_request(url, o.secret,
                         webhook_body("UPDATE", o.table.schema, o.table.table, c.json, c.old_json));
        expected[i] = c.json;
        if (i % stride != 0) return;
        sampler.expect(i / stride, c.json);
        if (c.committed_us) sampler.committed(i / stride, steady_from_unix_us(c.committed_us));
    }
};

// Polls until every changed row and the list are correct, or `deadline`; returns when that was.
// The list Postgres has after the last change may still be computed while this polls, so the
// list's head ("{prefix}": the list itself, or a manifest naming its parts) is read every
// round, and the list counts as correct from the round its current head was first seen — late
// by at most a round, never early.
std::optional<Clock::time_point> converge(const Plan& plan, std::size_t changed,
                                          const std::shared_future<std::string>& list,
                                          const E2eOptions& o, CacheView& cache,
                                          Clock::time_point deadline) {
    std::vector<std::size_t> wrong(changed);
    for (std::size_t i = 0; i < changed; ++i) wrong[i] = i;
    std::optional<std::string> head;
    const auto never = Clock::time_point::max();
    Clock::time_point head_seen, rows_ok = never, list_ok = never;
    std::vector<std::string> keys;
    while (true) {
        auto round_start = Clock::now();
        keys.clear();
        for (std::size_t i : wrong) keys.push_back(o.table.prefix + "/" + plan.ids[i]);
        auto got = cache.get_many(keys);
        std::erase_if(wrong, [&](std::size_t i) {
            auto it = got.find(o.table.prefix + "/" + plan.ids[i]);
            return it != got.end() && it->second == plan.expected[i];
        });
        auto now = Clock::now();
        if (wrong.empty() && rows_ok == never) rows_ok = now;
        if (list_ok == never) {
            auto current = cache.get(o.table.prefix);
            now = Clock::now();
            if (current != head) {
                head = std::move(current);
                head_seen = now;
            }
            if (head && list.wait_for(seconds(0)) == std::future_status::ready &&
                cache.assemble(*head) == list.get())
                list_ok = head_seen;
        }
        if (rows_ok != never && list_ok != never) return std::max(rows_ok, list_ok);
        if (now >= deadline) return std::nullopt;
        // At most half of the time polling: a 60 MB list must not starve the worker of CPU.
        std::this_thread::sleep_for(
            std::max<Clock::duration>(milliseconds(o.poll_ms), now - round_start));
    }
}

int run_e2e(const E2eOptions& o) {
    auto url = parse_url(o.url);
    if (!url) {
        std::cerr << "e2e: --url must be http://host[:port]/path, got " << o.url << "\n";
        return 2;
    }
    Truth truth(o.postgres_url, o.table);
    CacheView cache(o.memcached);
    std::size_t rows = truth.count();
    Divergence before = wait_consistent(truth, cache, o.table.prefix, o.wait_consistent_s);
    if (before.keys_divergent() != 0) {
        std::cerr << "e2e: the cache does not equal Postgres before the run ("
                  << before.keys_divergent() << " keys differ); is the worker running?\n";
        return 1;
    }

    Plan plan;
    plan.ids = truth.random_ids(o.count);
    std::size_t n = plan.ids.size();
    plan.requests.resize(n);
    plan.expected.resize(n);
    plan.stride = std::max<std::size_t>(1, n / std::max<std::size_t>(1, o.sample));
    std::vector<std::string> sample_keys;
    for (std::size_t i = 0; i < n; i += plan.stride)
        sample_keys.push_back(o.table.prefix + "/" + plan.ids[i]);
    StalenessSampler sampler(o.memcached, sample_keys, milliseconds(o.poll_ms));

    auto rebuilds0 = metric(o.metrics_url, "revalidator_worker_list_rebuilds_total");
    auto events0 = metric(o.metrics_url, "revalidator_worker_events_total");
    auto batches0 = metric(o.metrics_url, "revalidator_worker_batches_total");
    auto read_s0 = metric(o.metrics_url, "revalidator_worker_batch_read_seconds_sum");
    auto batch_s0 = metric(o.metrics_url, "revalidator_worker_batch_seconds_sum");

    Engine engine({*url, o.connections, milliseconds(o.timeout_ms)});
    Tally tally;
    auto last_ack = Clock::time_point::min();
    auto sink = [&](const Outcome& out) {
        tally.add(out);
        if (out.status / 100 != 2) return;
        if (out.tag % plan.stride == 0) sampler.acked(out.tag / plan.stride, out.done);
        last_ack = std::max(last_ack, out.done);
    };
    auto limit = duration_cast<Clock::duration>(duration<double>(o.max_seconds));
    double update_s = 0;
    std::atomic<std::size_t> changed = 0;
    std::promise<std::string> final_list;
    std::shared_future<std::string> list = final_list.get_future().share();
    QueueFeed queue;        // steady: fed by the producer, which outlives the block below
    std::jthread producer;  // declared after the queue: joined before the queue goes
    auto t0 = Clock::now();
    if (o.rate <= 0) {
        auto changes = truth.bump(plan.ids);
        if (changes.size() != n) {
            std::cerr << "e2e: " << n - changes.size() << " rows vanished during the run\n";
            return 1;
        }
        std::unordered_map<std::string, std::size_t> index;
        for (std::size_t i = 0; i < n; ++i) index.emplace(plan.ids[i], i);
        for (const auto& c : changes) plan.announce(index.at(c.id), c, o, *url, sampler);
        changed = changes.size();
        update_s = duration<double>(Clock::now() - t0).count();
        final_list.set_value(truth.list());  // nothing changes the table from here on
        ListFeed feed(plan.requests);
        t0 = Clock::now();
        engine.run(feed, t0 + limit, n, sink);
    } else {
        producer = std::jthread([&] {
            try {
                Truth writer(o.postgres_url, o.table);
                for (std::size_t i = 0; i < n; ++i) {
                    auto due = t0 + duration_cast<Clock::duration>(
                                        duration<double>(static_cast<double>(i) / o.rate));
                    if (due >= t0 + limit) break;
                    std::this_thread::sleep_until(due);
                    auto c = writer.bump({plan.ids[i]});
                    if (c.empty()) break;  // the row is gone: someone else changes the table
                    plan.announce(i, c[0], o, *url, sampler);
                    changed = i + 1;
                    queue.push(plan.requests[i], i, Clock::now());
                }
                queue.close();
                // Read while the last webhooks are still in flight and the rows are polled.
                final_list.set_value(writer.list());
            } catch (...) {
                queue.close();
                final_list.set_exception(std::current_exception());
            }
        });
        engine.run(queue, t0 + limit, n, sink);
    }
    double send_s =
        last_ack == Clock::time_point::min() ? 0 : duration<double>(last_ack - t0).count();
    auto settle = duration_cast<Clock::duration>(duration<double>(o.settle_s));
    auto converged = last_ack == Clock::time_point::min()
                         ? std::nullopt
                         : converge(plan, changed, list, o, cache, last_ack + settle);
    auto seen = sampler.finish(std::max(Clock::now(), last_ack) + seconds(1));
    std::vector<double> staleness;
    std::size_t unseen = 0;
    for (const auto& s : seen) {
        if (s) {
            staleness.push_back(*s);
        } else {
            ++unseen;
        }
    }
    // From commit, every sampled change: one never seen is within no bound.
    std::vector<double> visible_ms;
    for (std::size_t k = 0; k * plan.stride < changed; ++k) {
        const auto& s = sampler.since_commit()[k];
        visible_ms.push_back(s ? *s * 1e3 : std::numeric_limits<double>::infinity());
    }
    nlohmann::json visible = nlohmann::json::object();
    for (const double bound : kVisibleWithinMs) {
        visible[fixed(bound, 0) + "ms"] = share_within(visible_ms, bound);
    }
    Summary stale = summarize(std::move(staleness));
    Summary ack = summarize(std::move(tally.latency_s));
    auto rebuilds =
        delta(rebuilds0, metric(o.metrics_url, "revalidator_worker_list_rebuilds_total"));
    auto events = delta(events0, metric(o.metrics_url, "revalidator_worker_events_total"));
    auto batches = delta(batches0, metric(o.metrics_url, "revalidator_worker_batches_total"));
    auto read_s =
        delta(read_s0, metric(o.metrics_url, "revalidator_worker_batch_read_seconds_sum"));
    auto batch_s = delta(batch_s0, metric(o.metrics_url, "revalidator_worker_batch_seconds_sum"));
    auto seconds_ms = [](const nlohmann::json& v) {
        return v.is_number() ? nlohmann::json(v.get<double>() * 1e3) : v;
    };
    Divergence after = compare(truth.snapshot(), cache, o.table.prefix);
    std::optional<double> converge_s;
    if (converged) converge_s = std::max(0.0, duration<double>(*converged - last_ack).count());

    nlohmann::json j = {
        {"mode", "e2e"},
        {"kind", o.rate > 0 ? "steady" : "burst"},
        {"rows", rows},
        {"count", changed.load()},
        {"rate", o.rate > 0 ? nlohmann::json(o.rate) : nlohmann::json(nullptr)},
        {"connections", o.connections},
        {"update_s", update_s},
        {"send_s", send_s},
        {"webhooks_per_s", send_s > 0 ? static_cast<double>(tally.ok) / send_s : 0},
        {"ok", tally.ok},
        {"errors", tally.errors},
        {"error_total", tally.error_total()},
        {"ack_ms", to_json(ack, 1e3)},
        {"staleness_ms", to_json(stale, 1e3)},
        {"staleness_sampled", seen.size()},
        {"staleness_unseen", unseen},
        {"visible_after_commit_percent", visible},
        {"poll_ms", o.poll_ms},
        {"converged", converged.has_value()},
        {"converge_s", converge_s ? nlohmann::json(*converge_s) : nlohmann::json(nullptr)},
        {"list_bytes", list.get().size()},
        {"list_rebuilds", rebuilds},
        {"worker_events", events},
        {"worker_batches", batches},
        {"worker_read_ms", seconds_ms(read_s)},
        {"worker_batch_ms", seconds_ms(batch_s)},
        {"final_check", to_json(after)}};
    write_json_file(o.json, j);

    auto ms = [](double s) { return fixed(s * 1e3, 2); };
    auto count = [](const nlohmann::json& v) {
        return v.is_number() ? fixed(v.get<double>(), 0) : std::string("n/a");
    };
    std::cout << "e2e " << (o.rate > 0 ? "steady " + fixed(o.rate, 0) + "/s" : std::string("burst"))
              << " " << o.url << "  rows=" << thousands(rows)
              << " changed=" << thousands(changed.load()) << " connections=" << o.connections
              << "\n";
    if (o.rate <= 0) std::cout << "  bulk UPDATE  " << fixed(update_s, 3) << " s\n";
    std::cout << "  webhooks     " << thousands(tally.ok) << " acked in " << fixed(send_s, 3)
              << " s; errors " << tally.errors_text() << "\n"
              << "  ack ms       p50 " << ms(ack.p50) << "  p99 " << ms(ack.p99) << "  max "
              << ms(ack.max) << "\n"
              << "  staleness ms p50 " << ms(stale.p50) << "  p99 " << ms(stale.p99) << "  max "
              << ms(stale.max) << "  (" << stale.count << " sampled, " << unseen
              << " never seen, polled every " << o.poll_ms << " ms)\n"
              << "  visible      " << nines(visible_ms)
              << " after commit (Postgres' clock_timestamp() to the poll that saw it)\n"
              << "  converged    "
              << (converge_s ? fixed(*converge_s, 3) + " s after the last ack"
                             : std::string("NO, not within --settle"))
              << "\n"
              << "  worker       list rebuilds " << count(rebuilds) << ", batches "
              << count(batches) << ", events " << count(events) << "; in batches "
              << count(seconds_ms(batch_s)) << " ms, of which reading Postgres "
              << count(seconds_ms(read_s)) << " ms\n"
              << "  final check  " << after.keys_divergent() << " of " << thousands(after.rows + 1)
              << " keys divergent\n";
    return converged && after.keys_divergent() == 0 && tally.error_total() == 0 ? 0 : 1;
}

}  // namespace

void add_e2e_command(CLI::App& app) {
    auto o = std::make_shared<E2eOptions>();
    auto* cmd = app.add_subcommand(
        "e2e", "change rows in Postgres, send their webhooks, and measure until the cache agrees");
    add_deployment_options(*cmd, *o);
    cmd->add_option("-n,--count", o->count, "rows changed, one webhook each (at most the table)")
        ->capture_default_str();
    cmd->add_option("--rate", o->rate, "changes per second; 0: a burst")->capture_default_str();
    cmd->add_option("-c,--connections", o->connections, "keep-alive connections")
        ->capture_default_str();
    cmd->add_option("--timeout-ms", o->timeout_ms, "a webhook unanswered this long is a timeout")
        ->capture_default_str();
    cmd->add_option("--sample", o->sample, "rows whose staleness is measured")
        ->capture_default_str();
    cmd->add_option("--poll-ms", o->poll_ms, "interval between polls of Memcached")
        ->capture_default_str();
    cmd->add_option("--max-seconds", o->max_seconds, "most seconds spent sending")
        ->capture_default_str();
    cmd->add_option("--settle", o->settle_s,
                    "most seconds waited after the last ack for the cache to agree")
        ->capture_default_str();
    cmd->add_option("--wait-consistent", o->wait_consistent_s,
                    "seconds to wait for the cache to equal Postgres before starting")
        ->capture_default_str();
    cmd->add_option("--json", o->json, "also write the result as JSON to this file");
    cmd->callback([o] {
        int rc = run_e2e(*o);
        if (rc) throw CLI::RuntimeError(rc);
    });
}

}  // namespace loadgen
