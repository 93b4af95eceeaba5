// `loadgen heal`: webhooks lost as pg_net loses them, and the time until the cache is right again
// without anyone's help (docs/operations.md, "Repairing itself"). At a steady rate it makes real
// changes in Postgres, INSERT, UPDATE and DELETE in turn, and sends the webhook Supabase would
// send for each, except for every k-th change (--drop 0.2: one in five, of every kind alike),
// which is made and never announced. After the last change it watches the changed rows' keys and
// the list until all equal Postgres, then compares the whole cache once, and reports:
//   - the changes made and dropped, by kind, and the webhooks' errors;
//   - what differed at the last change (changed keys wrong or left over, the list);
//   - healed: the time from the last change until every changed key and the list equal Postgres;
//   - the final check of every key;
//   - from the worker's metrics: divergences found by kind, rows verified, resyncs (which should
//     stay 0 for the figure to mean anything: run the worker with --resync-interval-s 0).
#include <algorithm>
#include <array>
#include <iostream>
#include <map>
#include <random>
#include <thread>
#include <unordered_map>

#include "consistency.hpp"
#include "deployment.hpp"
#include "feeds.hpp"
#include "format.hpp"
#include "metrics_page.hpp"
#include "modes.hpp"
#include "tally.hpp"
#include "webhook.hpp"

namespace loadgen {

namespace {

using namespace std::chrono;

struct HealOptions : Deployment {
    std::string insert_column = "title";
    std::size_t count = 3000;
    double rate = 300;
    double drop = 0.2;
    int connections = 8;
    int timeout_ms = 2000;
    double settle_s = 120;
    double wait_consistent_s = 60;
    std::string json;
};

constexpr std::array<const char*, 3> kKinds = {"UPDATE", "INSERT", "DELETE"};
constexpr std::array<const char*, 6> kDivergences = {"missing",  "wrong",     "list_row",
                                                     "vanished", "stray_key", "list"};

std::string divergence_series(const char* kind) {
    return std::string("revalidator_worker_divergences_total{kind=\"") + kind + "\"}";
}

std::map<std::string, double> worker_figures(const std::string& url) {
    std::map<std::string, double> out;
    if (url.empty()) return out;
    auto page = MetricsPage::fetch(url);
    for (const char* kind : kDivergences) {
        out[kind] = page.value(divergence_series(kind)).value_or(0);
    }
    for (const char* name :
         {"revalidator_worker_verify_rows_total", "revalidator_worker_verify_passes_total",
          "revalidator_worker_resyncs_total", "revalidator_worker_batches_total"}) {
        out[name] = page.value(name).value_or(0);
    }
    return out;
}

int run_heal(const HealOptions& o) {
    auto url = parse_url(o.url);
    if (!url) {
        std::cerr << "heal: --url must be http://host[:port]/path, got " << o.url << "\n";
        return 2;
    }
    if (o.drop < 0 || o.drop >= 1) {
        std::cerr << "heal: --drop must be in [0, 1), got " << o.drop << "\n";
        return 2;
    }
    Truth truth(o.postgres_url, o.table);
    CacheView cache(o.memcached);
    Divergence before = wait_consistent(truth, cache, o.table.prefix, o.wait_consistent_s);
    if (before.keys_divergent() != 0) {
        std::cerr << "heal: the cache does not equal Postgres before the run ("
                  << before.keys_divergent() << " keys differ); is the worker running?\n";
        return 1;
    }
    const std::size_t rows = before.rows;
    const auto figures0 = worker_figures(o.metrics_url);

    // Every k-th change of each kind is dropped, so the kinds lose alike.
    const std::size_t every = o.drop > 0 ? static_cast<std::size_t>(std::lround(1 / o.drop)) : 0;
    std::array<std::size_t, 3> made{}, dropped{};
    std::vector<std::string> requests(o.count);  // sized once: the engine holds pointers into it
    Engine engine({*url, o.connections, milliseconds(o.timeout_ms)});
    Tally tally;
    QueueFeed queue;
    Clock::time_point last_change{};
    std::vector<std::string> touched;  // ids of every row changed
    const auto t0 = Clock::now();
    std::jthread producer([&] {
        try {
            Truth writer(o.postgres_url, o.table);
            std::vector<std::string> ids = writer.all_ids();
            std::mt19937_64 rng(42);
            for (std::size_t i = 0; i < o.count && !ids.empty(); ++i) {
                std::this_thread::sleep_until(t0 + duration_cast<Clock::duration>(duration<double>(
                                                       static_cast<double>(i) / o.rate)));
                const std::size_t kind = i % kKinds.size();
                std::optional<Change> c;
                std::size_t pick =
                    std::uniform_int_distribution<std::size_t>(0, ids.size() - 1)(rng);
                if (kind == 0) {
                    auto changed = writer.bump({ids[pick]});
                    if (!changed.empty()) c = changed[0];
                } else if (kind == 1) {
                    c = writer.insert(o.insert_column,
                                      "inserted by loadgen heal " + std::to_string(i));
                    if (c) ids.push_back(c->id);
                } else {
                    c = writer.remove(ids[pick]);
                    ids[pick] = ids.back();
                    ids.pop_back();
                }
                last_change = Clock::now();
                if (!c) continue;
                touched.push_back(c->id);
                ++made[kind];
                if (every && made[kind] % every == 0) {
                    ++dropped[kind];
                    continue;
                }
                const std::string record = kind == 2 ? "null" : c->json;
                const std::string old = kind == 1 ? "null" : c->old_json;
                requests[i] = post_request(
                    *url, o.secret,
                    webhook_body(kKinds[kind], o.table.schema, o.table.table, record, old));
                queue.push(requests[i], i, Clock::now());
            }
        } catch (const std::exception& e) {
            std::cerr << "heal: changing rows failed: " << e.what() << "\n";
        }
        queue.close();
    });
    engine.run(queue, t0 + hours(1), o.count, [&](const Outcome& out) { tally.add(out); });
    producer.join();

    // What the lost webhooks left wrong, then how long until nothing is. Only the keys of the
    // rows changed and the list's head are watched, as e2e does: comparing the whole cache each
    // round (60 MB from Postgres and from Memcached at 100k rows) would slow down the worker it
    // measures. A full comparison ends the run.
    const auto truth_now = truth.snapshot();
    std::unordered_map<std::string, std::string> expected(truth_now.rows.begin(),
                                                          truth_now.rows.end());
    std::vector<std::string> wrong;  // keys of changed rows not yet right
    for (const auto& id : touched) wrong.push_back(o.table.prefix + "/" + id);
    std::sort(wrong.begin(), wrong.end());
    wrong.erase(std::unique(wrong.begin(), wrong.end()), wrong.end());
    const std::size_t changed_keys = wrong.size();
    // The list's head is read every round, its whole list (60 MB at 100k rows) only once the rows
    // are right and then once per new head; it counts as right from the round its head was first
    // seen (late by at most a round, never early).
    std::optional<std::string> head;
    Clock::time_point head_seen{}, rows_ok{};
    bool head_checked = false, list_right = false;
    std::optional<double> healed_s;
    std::size_t wrong_at_last = 0;
    bool first = true;
    const auto settle = last_change + duration_cast<Clock::duration>(duration<double>(o.settle_s));
    while (true) {
        const auto got = cache.get_many(wrong);
        std::erase_if(wrong, [&](const std::string& key) {
            auto want = expected.find(key.substr(o.table.prefix.size() + 1));
            auto have = got.find(key);
            if (want == expected.end()) return have == got.end();  // deleted: its key gone
            return have != got.end() && have->second == want->second;
        });
        const auto round = Clock::now();
        if (wrong.empty() && rows_ok == Clock::time_point{}) rows_ok = round;
        if (auto current = cache.get(o.table.prefix); current != head) {
            head = std::move(current);
            head_seen = round;
            head_checked = false;
        }
        if (wrong.empty() && !head_checked) {
            list_right = head && cache.assemble(*head) == truth_now.list;
            head_checked = true;
        }
        if (first) wrong_at_last = wrong.size() + (list_right ? 0 : 1);
        first = false;
        if (wrong.empty() && list_right) {
            healed_s = duration<double>(std::max(rows_ok, head_seen) - last_change).count();
            break;
        }
        if (round >= settle) break;
        std::this_thread::sleep_for(milliseconds(20));
    }
    const Divergence now = compare(truth.snapshot(), cache, o.table.prefix);
    const auto figures1 = worker_figures(o.metrics_url);
    auto delta = [&](const std::string& k) {
        return figures1.count(k) && figures0.count(k) ? figures1.at(k) - figures0.at(k) : 0.0;
    };

    nlohmann::json j = {{"mode", "heal"},
                        {"rows", rows},
                        {"rate", o.rate},
                        {"drop", o.drop},
                        {"webhooks_ok", tally.ok},
                        {"errors", tally.errors},
                        {"changed_keys", changed_keys},
                        {"divergent_at_last_change", wrong_at_last},
                        {"healed", healed_s.has_value()},
                        {"healed_s", healed_s ? nlohmann::json(*healed_s) : nlohmann::json()},
                        {"final_check", to_json(now)}};
    for (std::size_t k = 0; k < kKinds.size(); ++k) {
        j["made"][kKinds[k]] = made[k];
        j["dropped"][kKinds[k]] = dropped[k];
    }
    for (const char* kind : kDivergences) j["worker_divergences"][kind] = delta(kind);
    j["worker_rows_verified"] = delta("revalidator_worker_verify_rows_total");
    j["worker_resyncs"] = delta("revalidator_worker_resyncs_total");
    write_json_file(o.json, j);

    std::cout << "heal " << fixed(o.rate, 0) << " changes/s, " << fixed(o.drop * 100, 0)
              << "% of webhooks dropped  rows=" << thousands(rows) << "\n";
    for (std::size_t k = 0; k < kKinds.size(); ++k) {
        std::cout << "  " << kKinds[k] << (k == 0 ? "  " : "  ") << thousands(made[k]) << " made, "
                  << thousands(dropped[k]) << " never announced\n";
    }
    std::cout << "  webhooks     " << thousands(tally.ok) << " acked; errors "
              << tally.errors_text() << "\n"
              << "  at the last change " << wrong_at_last << " of the " << thousands(changed_keys)
              << " changed keys and the list divergent\n"
              << "  healed       "
              << (healed_s ? fixed(*healed_s, 2) + " s after the last change"
                           : std::string("NO, not within --settle"))
              << "\n";
    if (!o.metrics_url.empty()) {
        std::cout << "  worker       found";
        for (const char* kind : kDivergences) std::cout << " " << kind << " " << delta(kind);
        std::cout << "; rows verified "
                  << thousands(
                         static_cast<std::uint64_t>(delta("revalidator_worker_verify_rows_total")))
                  << ", resyncs " << delta("revalidator_worker_resyncs_total") << "\n";
    }
    std::cout << "  final check  " << now.keys_divergent() << " of " << thousands(now.rows + 1)
              << " keys divergent\n";
    return healed_s && now.keys_divergent() == 0 && tally.error_total() == 0 ? 0 : 1;
}

}  // namespace

void add_heal_command(CLI::App& app) {
    auto o = std::make_shared<HealOptions>();
    auto* cmd = app.add_subcommand(
        "heal",
        "changes at a steady rate with some webhooks never sent; time until the cache "
        "is right again");
    add_deployment_options(*cmd, *o);
    cmd->add_option("--insert-column", o->insert_column,
                    "text column an INSERT sets (the others take their defaults)")
        ->capture_default_str();
    cmd->add_option("-n,--count", o->count, "changes made: UPDATE, INSERT and DELETE in turn")
        ->capture_default_str();
    cmd->add_option("--rate", o->rate, "changes per second")->capture_default_str();
    cmd->add_option("--drop", o->drop, "fraction of each kind's webhooks never sent")
        ->capture_default_str();
    cmd->add_option("-c,--connections", o->connections, "keep-alive connections")
        ->capture_default_str();
    cmd->add_option("--settle", o->settle_s, "most seconds to wait for the cache to be right")
        ->capture_default_str();
    cmd->add_option("--wait-consistent", o->wait_consistent_s,
                    "most seconds to wait for a consistent cache before starting")
        ->capture_default_str();
    cmd->add_option("--json", o->json, "also write the result as JSON to this file");
    cmd->callback([o] {
        int rc = run_heal(*o);
        if (rc) throw CLI::RuntimeError(rc);
    });
}

}  // namespace loadgen
