// Chaos: the consistency promises under a hostile world, end to end. Real Postgres, three
// Memcached servers (keys spread by ketama, read through twemproxy as a reader of the cluster
// would), 2 ingresses, and two collections (public.articles with a bigint key; public.authors
// with a uuid key, listed by name), each with 2 workers (active + standby). A driver makes random
// INSERT/UPDATE/DELETE changes to both tables in Postgres and sends the matching webhooks,
// dropping ~10%, doubling ~10% and reordering them; meanwhile faults are injected: kill -9 of both
// tables' active workers at once and of an ingress (all restarted), a restart of one
// Memcached server (each in turn), Postgres stopped for a few seconds. An observer reads keys
// throughout and records any key that moves back to an older version. When the load stops, every
// key, both lists and a view of each table must equal Postgres within a deadline. Pass: zero
// divergent keys and zero backwards moves.
//
// It runs twice: with the periodic resync, and with none, where the worker's anti-entropy pass
// alone heals the dropped webhooks. CHAOS_SECONDS sets the load duration (default 30, the CI
// form); scripts/chaos runs a long one.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "stack.hpp"

using namespace revalidator::testing;
using namespace std::chrono;
using nlohmann::json;

namespace {

struct Counts {
    std::atomic<long> changes{0}, change_failures{0}, sent{0}, acked{0}, refused{0}, send_errors{0},
        dropped{0}, duplicated{0}, reads{0}, backwards{0};
};

seconds load_duration() {
    const char* s = std::getenv("CHAOS_SECONDS");
    return seconds(s ? std::atoi(s) : 30);
}

// The whole run, with the workers' own arguments.
void chaos(const std::vector<std::string>& worker_args) {
    Stack s({.worker_args = worker_args,
             .workers = 2,
             .ingresses = 2,
             .memcached_servers = 3,
             .read_through_twemproxy = true,
             .authors = true,
             // Views whose rows come and go as the load edits them.
             .articles_views = "[[collection.view]]\nname = \"even\"\nkey = \"/even-articles\"\n"
                               "filter = \"version % 2 = 0\"\norder-by = \"version DESC\"\n"
                               "limit = 20\ncolumns = [\"id\", \"version\"]\n",
             .authors_views =
                 "[[collection.view]]\nname = \"edited\"\nkey = \"/edited-authors\"\n"
                 "filter = \"name LIKE 'Edited%'\"\norder-by = \"name\"\nlimit = 10\n"});
    s.sql("INSERT INTO public.articles (title) SELECT 'Seed ' || g FROM generate_series(1, 195) g");
    const auto load = load_duration();
    const auto start = steady_clock::now();
    const auto stop_at = start + load;
    Counts n;
    std::mutex ids_mu;
    std::vector<long> live = [&] {
        std::vector<long> v;
        for (auto& id : s.sql_column("SELECT id FROM public.articles")) v.push_back(std::stol(id));
        return v;
    }();
    long max_id = *std::max_element(live.begin(), live.end());
    std::vector<std::string> authors = s.sql_column("SELECT id FROM public.authors");
    std::set<std::string> every_author(authors.begin(), authors.end());
    const std::string authors_list =
        "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.name, t.id)::text, '[]') "
        "FROM public.authors t";
    const std::string even_view =
        "SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'version', version) ORDER BY "
        "version DESC, id)::text, '[]') FROM (SELECT * FROM public.articles WHERE version % 2 = 0 "
        "ORDER BY version DESC, id LIMIT 20) t";
    const std::string edited_view =
        "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY name, id)::text, '[]') FROM (SELECT * "
        "FROM public.authors WHERE name LIKE 'Edited%' ORDER BY name, id LIMIT 10) t";
    auto author_row = [&](const std::string& id) {
        return s.sql("SELECT to_jsonb(t)::text FROM public.authors t WHERE id = '" + id + "'");
    };
    // One change to public.articles; returns its webhook.
    auto change_article = [&](std::mt19937& rng, int roll) {
        long id;
        {
            std::lock_guard lock(ids_mu);
            id = live[rng() % live.size()];
        }
        if (roll < 25) {
            id = std::stol(
                *s.sql("INSERT INTO public.articles (title) VALUES ('Chaos') RETURNING id"));
            {
                std::lock_guard lock(ids_mu);
                live.push_back(id);
                max_id = std::max(max_id, id);
            }
            return s.webhook_for("INSERT", std::to_string(id));
        }
        if (roll < 40 && live.size() > 50) {
            auto old = s.sql("DELETE FROM public.articles WHERE id = " + std::to_string(id) +
                             " RETURNING to_jsonb(articles)::text");
            std::lock_guard lock(ids_mu);
            std::erase(live, id);
            return old ? Stack::webhook_body("DELETE", nullptr, json::parse(*old))
                       : s.webhook_for("DELETE", std::to_string(id));
        }
        s.sql("UPDATE public.articles SET version = version + 1, title = 'Edited' WHERE id = " +
              std::to_string(id));
        return s.webhook_for("UPDATE", std::to_string(id));
    };
    // One change to public.authors (3 in 10 of all changes); returns its webhook.
    auto change_author = [&](std::mt19937& rng, int roll) {
        std::string id;
        {
            std::lock_guard lock(ids_mu);
            id = authors[rng() % authors.size()];
        }
        if (roll < 25) {
            id = *s.sql("INSERT INTO public.authors (name) VALUES ('Chaos') RETURNING id");
            std::lock_guard lock(ids_mu);
            authors.push_back(id);
            every_author.insert(id);
            return Stack::webhook_body("INSERT", json::parse(*author_row(id)), nullptr, "authors");
        }
        if (roll < 40 && authors.size() > 3) {
            auto old = s.sql("DELETE FROM public.authors WHERE id = '" + id +
                             "' RETURNING to_jsonb(authors)::text");
            std::lock_guard lock(ids_mu);
            std::erase(authors, id);
            return Stack::webhook_body("DELETE", nullptr,
                                       old ? json::parse(*old) : json{{"id", id}}, "authors");
        }
        // A new name moves the row within the list, which is ordered by name.
        s.sql(
            "UPDATE public.authors SET version = version + 1, name = 'Edited ' || "
            "(random() * 100)::int WHERE id = '" +
            id + "'");
        auto row = author_row(id);
        json rec = row ? json::parse(*row) : json{{"id", id}};
        return Stack::webhook_body("UPDATE", rec, rec, "authors");
    };

    // Driver: one real change, then its webhook (maybe dropped or doubled) into a shuffle buffer.
    auto driver = std::thread([&] {
        std::mt19937 rng(42);
        std::vector<std::string> buffer;
        std::vector<std::unique_ptr<httplib::Client>> ingress;
        for (int i = 0; i < 2; ++i) {
            ingress.push_back(std::make_unique<httplib::Client>("127.0.0.1", s.ingress_port(i)));
            ingress.back()->set_connection_timeout(0, 300'000);
            ingress.back()->set_read_timeout(1, 0);  // what pg_net gives a receiver
        }
        auto flush = [&] {
            std::shuffle(buffer.begin(), buffer.end(), rng);
            for (auto& body : buffer) {
                ++n.sent;
                auto r = ingress[rng() % 2]->Post(
                    "/revalidate", {{"Authorization", std::string("Bearer ") + kSecret}}, body,
                    "application/json");
                if (!r)
                    ++n.send_errors;
                else if (r->status == 202)
                    ++n.acked;
                else
                    ++n.refused;
            }
            buffer.clear();
        };
        while (steady_clock::now() < stop_at) {
            const int roll = static_cast<int>(rng() % 100);
            std::string body;
            try {
                body = rng() % 10 < 3 ? change_author(rng, roll) : change_article(rng, roll);
                ++n.changes;
            } catch (const std::exception&) {
                ++n.change_failures;  // Postgres is down: no change, so no webhook either
                std::this_thread::sleep_for(milliseconds(50));
                continue;
            }
            int fate = static_cast<int>(rng() % 100);
            if (fate < 10) {
                ++n.dropped;
            } else {
                buffer.push_back(body);
                if (fate < 20) {
                    ++n.duplicated;
                    buffer.push_back(body);
                }
            }
            if (buffer.size() >= 8) flush();
            std::this_thread::sleep_for(milliseconds(3));  // pacing: ~200 changes/s at most
        }
        flush();
    });

    // Observer: a key's version must never go down while the row exists.
    std::atomic<bool> observing{true};
    std::map<std::string, int> seen;
    auto observer = std::thread([&] {
        std::mt19937 rng(7);
        while (observing) {
            std::string key;
            {
                std::lock_guard lock(ids_mu);
                key = rng() % 3 == 0
                          ? "/authors/" + authors[rng() % authors.size()]
                          : "/articles/" +
                                std::to_string(1 + static_cast<long>(
                                                       rng() % static_cast<unsigned long>(max_id)));
            }
            auto v = s.cache_get(key);
            ++n.reads;
            if (!v) continue;
            auto row = json::parse(*v, nullptr, false);
            if (!row.is_object()) continue;
            int version = row.value("version", 0);
            int& best = seen[key];
            if (version < best) {
                ++n.backwards;
                std::cerr << "backwards: " << key << " version " << best << " -> " << version
                          << "\n";
            }
            best = std::max(best, version);
        }
    });

    // Faults, in a cycle, while the load runs.
    std::vector<std::string> faults;
    // On a fixed schedule from the start, not a pause after each fault: on a loaded machine the
    // faults themselves take longer (restarts wait for health), and every kind must still run.
    const auto interval =
        std::clamp(duration_cast<milliseconds>(load) / 5, milliseconds(4000), milliseconds(30000));
    for (int k = 0; start + (k + 1) * interval < stop_at; ++k) {
        std::this_thread::sleep_until(start + (k + 1) * interval);
        switch (k % 4) {
            case 0: {
                // Both tables fail over at once; each has its own lease and standby.
                std::vector<int> killed;
                for (const char* table : {"articles", "authors"}) {
                    const int active = s.active_worker(table);
                    if (active < 0) continue;
                    s.worker(active).stop(SIGKILL);
                    killed.push_back(active);
                    faults.push_back(std::string("kill -9 ") + table + "'s active worker " +
                                     std::to_string(active));
                }
                std::this_thread::sleep_for(milliseconds(1500));
                for (int w : killed) s.start_worker(w, false);
                break;
            }
            case 1:
                s.ingress(1).stop(SIGKILL);
                faults.push_back("kill -9 ingress 1");
                std::this_thread::sleep_for(milliseconds(1000));
                s.start_ingress(1);
                break;
            case 2: {
                const int server = (k / 4) % 3;
                s.memcached(server).stop();
                s.memcached(server).start();
                faults.push_back("restart memcached " + std::to_string(server));
                break;
            }
            case 3:
                s.postgres().stop();
                faults.push_back("stop postgres 3 s");
                std::this_thread::sleep_for(seconds(3));
                s.postgres().start();
                break;
        }
    }
    driver.join();
    auto last_fault_or_load = steady_clock::now();

    // Convergence: every key, every row ever created, and the list.
    std::vector<std::string> bad_keys;
    auto divergent = [&] {
        bad_keys.clear();
        for (long id = 1; id <= max_id; ++id) {
            std::string key = "/articles/" + std::to_string(id);
            if (s.cache_get(key) != s.expected_row(std::to_string(id))) bad_keys.push_back(key);
        }
        if (s.cache_get("/articles") != s.expected_list()) bad_keys.push_back("/articles");
        for (const auto& id : every_author) {
            if (s.cache_get("/authors/" + id) != author_row(id))
                bad_keys.push_back("/authors/" + id);
        }
        if (s.cache_get("/authors") != s.sql(authors_list)) bad_keys.push_back("/authors");
        if (s.cache_get("/even-articles") != s.sql(even_view)) bad_keys.push_back("/even-articles");
        if (s.cache_get("/edited-authors") != s.sql(edited_view)) {
            bad_keys.push_back("/edited-authors");
        }
        return static_cast<long>(bad_keys.size());
    };
    bool converged = eventually([&] { return divergent() == 0; }, seconds(60));
    double converge_s = duration<double>(steady_clock::now() - last_fault_or_load).count();
    observing = false;
    observer.join();
    long bad = divergent();

    std::cout << "[ chaos    ] load " << load.count() << " s, rows at end " << live.size()
              << " articles and " << authors.size() << " authors, max article id " << max_id
              << "\n[ chaos    ] changes " << n.changes
              << " (failed while Postgres was down: " << n.change_failures
              << ")\n[ chaos    ] webhooks sent " << n.sent << ", acked " << n.acked << ", refused "
              << n.refused << ", send errors " << n.send_errors << ", dropped on purpose "
              << n.dropped << ", doubled " << n.duplicated << "\n[ chaos    ] faults "
              << faults.size() << ":";
    for (auto& f : faults) std::cout << " [" << f << "]";
    std::cout << "\n[ chaos    ] converged " << (converged ? "yes" : "NO") << " " << converge_s
              << " s after the load and faults stopped; divergent keys " << bad
              << "; observer reads " << n.reads << ", backwards moves " << n.backwards << "\n";
    for (const auto& key : bad_keys) {
        std::cerr << "divergent " << key << ": cache " << s.cache_get(key).value_or("(absent)")
                  << "\n";
    }
    EXPECT_TRUE(converged);
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(n.backwards, 0);
    EXPECT_GE(faults.size(), 5u);
    if (::testing::Test::HasFailure()) std::cerr << s.diagnostics() << "\n";
}

}  // namespace

// Dropped webhooks are healed by the periodic resync and by the anti-entropy pass.
TEST(Chaos, CacheEqualsPostgresAfterFaultsAndNeverMovesBackwards) {
    chaos({"--resync-interval-s", "10"});
}

// Dropped webhooks are lost without anyone being told, and no periodic resync runs: the
// anti-entropy pass alone must find them (the resyncs that gaps and restarts trigger still run).
TEST(Chaos, LostWebhooksHealWithNoPeriodicResync) {
    chaos({"--resync-interval-s", "0"});
}
