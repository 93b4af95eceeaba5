// The scaled-out deployment, started, loaded and broken on one machine (scripts/cluster;
// docs/deployment.md, "The scenario"). On loopback: Postgres; three Memcached servers (ketama, read
// through twemproxy as docs/cache-layout.md tells readers); two collections, public.articles
// (bigint key, a published view of the newest 50 without body) and public.authors (uuid key,
// listed by name, a view of the edited ones), each with an active and a standby worker; three
// ingresses with stable instance ids; HAProxy in front of them, configured by docker/haproxy.cfg
// (so TLS ends there: every client below speaks HTTPS and verifies its certificate).
//
// The load, all through the balancer: writers make real changes in both tables in Postgres,
// steadily and in bursts, and send the webhook each change makes; readers read rows, lists and
// views and check every answer. Faults run on a fixed schedule, each printed as it happens: kill -9
// an ingress (restarted), kill -9 the articles' active worker (the standby takes over; restarted
// as a standby), kill -9 a Memcached server (restarted empty), SIGSTOP the authors' active worker
// past its lease (then SIGCONT), stop Postgres for 3 s. After each: how long until every change
// committed before the component came back is in the cache and every row key equals Postgres.
//
// The canary runs on every worker (--canary-interval-ms 1000): its rows of revalidator.canary
// have one trigger per collection that queues their webhooks, which revalidator-stand-in-sender
// POSTs through the balancer, as pg_net would. After the fault schedule, a dead feed: the
// articles' webhooks stop (the writer commits its changes and sends nothing; the articles'
// canary trigger is dropped) for one fault interval, then come back. The articles' active worker
// must name the silent feed within 3 canary intervals (plus a scrape margin), the authors' canary
// must keep beating, and the repair pass must heal the unannounced changes (the final comparison).
//
// The verdict: every key of every collection and view equal to Postgres, no backwards move, no
// acknowledged change missing, no wrong read, every webhook answered. Timing figures (ack p99
// beside its 10 ms target, convergence per fault beside its 2 s, the share of changes visible
// within 10 ms, 100 ms, 1 s and 5 s of their commit beside its goals, the same for the changes
// made during the dead feed, the canary's commit -> visible outside faults) are printed, not
// asserted: speed is measured by the long form, whose figures docs/performance.md keeps. A change's
// commit time is Postgres' clock_timestamp() in its own statement (so a little before the commit
// itself: the figures err late, never early); it is visible when the observer's read of its key
// first shows it.
//
//   CLUSTER_SECONDS   load duration (default 60: the CI form; scripts/cluster --minutes N)
//   CLUSTER_HOLD=1    start everything, print the addresses, and wait for Ctrl-C instead
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <iomanip>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <pqxx/pqxx>

#include "change_log.hpp"
#include "nines.hpp"
#include "process.hpp"
#include "stack.hpp"
#include "traffic.hpp"

using namespace revalidator::testing;
using namespace revalidator::cluster;
using loadgen::nines;
using loadgen::percent;
using loadgen::share_within;
using namespace std::chrono;
using nlohmann::json;

namespace {

std::atomic<bool> interrupted{false};
extern "C" void on_interrupt(int) {
    interrupted = true;
}

// Ctrl-C and SIGTERM end the run through the destructors, which stop every server and remove the
// data folder; a second Ctrl-C is not needed.
void catch_interrupts() {
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

// Waits until `t`, or less when interrupted.
void pause_until(Clock::time_point t) {
    while (!interrupted && Clock::now() < t) std::this_thread::sleep_for(milliseconds(50));
}

double seconds_between(Clock::time_point a, Clock::time_point b) {
    return duration<double>(b - a).count();
}

// A short lease, so that a frozen active worker is replaced within seconds; the lease must outlast
// five Memcached timeouts (docs/operations.md).
constexpr int kLeaseTtlMs = 2500;

// The canary's interval, and what the dead feed's detection may take beyond its 3 intervals: the
// scenario's scrape every 100 ms and the worker's own round, on a shared machine.
constexpr int kCanaryIntervalMs = 1000;
constexpr milliseconds kScrapeMargin{1000};

// revalidator_canary_staleness_seconds of one collection, summed over the workers: each bucket's
// cumulative count by its bound (+Inf last), the sum and the count.
struct CanaryHistogram {
    std::map<double, double> buckets;
    double sum = 0, count = 0;
};
using CanaryHistograms = std::map<std::string, CanaryHistogram>;

// Reads every worker's /metrics; nullopt when one does not answer (a sum without it would be
// wrong).
std::optional<CanaryHistograms> canary_histograms(const std::vector<int>& admin_ports) {
    const std::string name = "revalidator_canary_staleness_seconds_";
    const auto label = [](const std::string& line, const std::string& key) {
        const auto at = line.find(key + "=\"");
        if (at == std::string::npos) return std::string();
        const auto from = at + key.size() + 2;
        return line.substr(from, line.find('"', from) - from);
    };
    CanaryHistograms out;
    for (int port : admin_ports) {
        httplib::Client c("127.0.0.1", port);
        c.set_connection_timeout(1, 0);
        c.set_read_timeout(2, 0);
        auto r = c.Get("/metrics");
        if (!r || r->status != 200) return std::nullopt;
        std::istringstream lines(r->body);
        for (std::string line; std::getline(lines, line);) {
            if (line.rfind(name, 0) != 0) continue;
            const double value = std::atof(line.substr(line.rfind(' ') + 1).c_str());
            CanaryHistogram& h = out[label(line, "collection")];
            const std::string part = line.substr(name.size(), line.find('{') - name.size());
            if (part == "bucket") {
                const std::string le = label(line, "le");
                h.buckets[le == "+Inf" ? std::numeric_limits<double>::infinity()
                                       : std::atof(le.c_str())] += value;
            } else if (part == "sum") {
                h.sum += value;
            } else if (part == "count") {
                h.count += value;
            }
        }
    }
    return out;
}

const std::string kArticlesViews =
    "[[collection.view]]\nname = \"published\"\nkey = \"/published-articles\"\n"
    "filter = \"published_at <= now()\"\norder-by = \"published_at DESC\"\nlimit = 50\n"
    "columns = [\"id\", \"title\", \"published_at\", \"version\"]\n";
const std::string kAuthorsViews =
    "[[collection.view]]\nname = \"edited\"\nkey = \"/edited-authors\"\n"
    "filter = \"name LIKE 'Edited%'\"\norder-by = \"name\"\nlimit = 10\n";

// What each list and view must hold, rendered by Postgres as the worker renders it.
const std::map<std::string, std::string> kListQueries = {
    {"/articles",
     "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.id)::text, '[]') FROM public.articles t"},
    {"/published-articles",
     "SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'title', title, 'published_at', "
     "published_at, 'version', version) ORDER BY published_at DESC, id)::text, '[]') FROM "
     "(SELECT * FROM public.articles WHERE published_at <= now() ORDER BY published_at DESC, id "
     "LIMIT 50) t"},
    {"/authors",
     "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.name, t.id)::text, '[]') FROM "
     "public.authors t"},
    {"/edited-authors",
     "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY name, id)::text, '[]') FROM (SELECT * FROM "
     "public.authors WHERE name LIKE 'Edited%' ORDER BY name, id LIMIT 10) t"},
};

// HAProxy's counters for the ingresses' backend (its /stats;csv): per row (BACKEND, ingress0...),
// by column name: wretr (attempts it retried), wredis (retries sent to another ingress), econ,
// eresp (failed connections and answers), stot (requests). Empty when the page cannot be read.
std::map<std::string, std::map<std::string, long>> balancer_counters(int stats_port) {
    httplib::Client c("127.0.0.1", stats_port);
    c.set_url_encode(false);  // the `;` is HAProxy's syntax, not a character of the path
    auto r = c.Get("/stats;csv");
    std::map<std::string, std::map<std::string, long>> out;
    if (!r || r->status != 200) return out;
    std::istringstream lines(r->body);
    std::string header, line;
    std::getline(lines, header);
    auto fields = [](const std::string& l) {
        std::vector<std::string> f;
        std::istringstream in(l);
        for (std::string x; std::getline(in, x, ',');) f.push_back(x);
        return f;
    };
    const auto names = fields(header.substr(header.find_first_not_of("# ")));
    while (std::getline(lines, line)) {
        const auto values = fields(line);
        if (values.size() < 2 || values[0] != "ingresses") continue;
        for (std::size_t i = 0; i < std::min(names.size(), values.size()); ++i) {
            out[values[1]][names[i]] = std::atol(values[i].c_str());
        }
    }
    return out;
}

// A connection of the scenario's own (each thread has one), reconnecting after Postgres' stop.
class Db {
  public:
    explicit Db(std::string url) : url_(std::move(url)) {}
    pqxx::result exec(const std::string& query) {
        if (!conn_ || !conn_->is_open()) conn_ = std::make_unique<pqxx::connection>(url_);
        try {
            pqxx::work tx(*conn_);
            auto r = tx.exec(query);
            tx.commit();
            return r;
        } catch (const pqxx::broken_connection&) {
            conn_.reset();
            throw;
        }
    }

  private:
    std::string url_;
    std::unique_ptr<pqxx::connection> conn_;
};

// One table the writers change and the readers read.
struct Table {
    Table(std::string n, bool u) : name(std::move(n)), uuid(u) {}
    std::string name;  // public.<name>, its prefix /<name>
    bool uuid;
    std::atomic<bool> muted{false};  // the dead feed: changes are committed, no webhook sent
    std::mutex mu;
    std::vector<std::string> live;  // ids of existing rows
    std::set<std::string> ever;     // ids of every row that existed during the run
    std::string any_live(std::mt19937& rng) {
        std::lock_guard lock(mu);
        return live[rng() % live.size()];
    }
};

// One random change to `t` in Postgres; returns the row's key, new version (0: deleted) and the
// webhook Supabase would send for it.
struct Change {
    std::string key;
    int version;
    std::string webhook;
    Clock::time_point committed;  // Postgres' clock, on the scenario's steady clock
};

std::optional<Change> change(Db& db, Table& t, std::mt19937& rng) {
    const int roll = static_cast<int>(rng() % 100);
    const std::string tbl = "public." + t.name;
    std::string id = t.any_live(rng), type, query;
    const std::string where = " WHERE id = '" + id + "'";
    if (roll < 20) {
        type = "INSERT";
        query = t.uuid ? "INSERT INTO " + tbl + " (name) VALUES ('Author ' || md5(random()::text))"
                       : "INSERT INTO " + tbl +
                             " (title, body) VALUES ('Cluster', repeat('Body ', 20))";
    } else if (roll < 30 && t.live.size() > 50) {
        type = "DELETE";
        query = "DELETE FROM " + tbl + where;
    } else {
        type = "UPDATE";
        // Articles move in and out of the published view (a year ahead is not yet published);
        // authors move within the list, ordered by name, and in and out of the edited view.
        query = t.uuid ? "UPDATE " + tbl +
                             " SET version = version + 1, name = CASE WHEN random() < 0.5 THEN "
                             "'Edited ' || (random() * 1000)::int ELSE name END" +
                             where
                       : "UPDATE " + tbl +
                             " SET version = version + 1, title = 'Edited', published_at = CASE "
                             "WHEN random() < 0.3 THEN now() + interval '1 year' ELSE "
                             "clock_timestamp() END" +
                             where;
    }
    auto r = db.exec(query + " RETURNING id::text, version, to_jsonb(" + t.name +
                     ")::text, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint");
    if (r.empty()) return std::nullopt;
    id = r[0][0].as<std::string>();
    const json row = json::parse(r[0][2].as<std::string>());
    {
        std::lock_guard lock(t.mu);
        if (type == "INSERT") {
            t.live.push_back(id);
            t.ever.insert(id);
        } else if (type == "DELETE") {
            std::erase(t.live, id);
        }
    }
    return Change{"/" + t.name + "/" + id, type == "DELETE" ? 0 : r[0][1].as<int>(),
                  Stack::webhook_body(type, type == "DELETE" ? json(nullptr) : row,
                                      type == "INSERT" ? json(nullptr) : row, t.name),
                  loadgen::steady_from_unix_us(r[0][3].as<std::int64_t>())};
}

// The dead feed: one table's webhooks stopped for a while, then restored.
struct DeadFeed {
    std::string table;
    Clock::time_point stopped, restored;
    double noticed_s = -1;     // the silent-feed signal, after `stopped`; -1: never
    nlohmann::json readiness;  // the active worker's canary detail once silent
    double others_beats = 0;   // the other table's canary beats seen meanwhile
    bool others_silent = false;
    double back_s = -1;  // the signal gone again, after `restored`
};

struct Fault {
    std::string what;
    Clock::time_point start, back;  // back: the component is back (for a takeover: the kill)
    double takeover_s = -1;         // worker faults: until the standby was active
    double converged_s = -1;        // after `back`; -1: not before the next fault
};

class Cluster {
  public:
    explicit Cluster(seconds load)
        : load_(load),
          s_({.worker_args = {"--lease-ttl-ms", std::to_string(kLeaseTtlMs), "--cache-timeout-ms",
                              std::to_string(kLeaseTtlMs / 5), "--canary-interval-ms",
                              std::to_string(kCanaryIntervalMs)},
              .workers = 2,
              .ingresses = 3,
              .reads_from_postgres = true,
              .memcached_servers = 3,
              .read_through_twemproxy = true,
              .setup_sql = {"INSERT INTO public.articles (title, body) SELECT 'Seed ' || g, "
                            "repeat('Body ', 20) FROM generate_series(1, 495) g",
                            schema_file("canary.sql"), schema_file("stand_in_sender.sql"),
                            canary_trigger("articles"), canary_trigger("authors")},
              .authors = true,
              .articles_views = kArticlesViews,
              .authors_views = kAuthorsViews,
              .balancer = true}) {
        s_.sql(
            "INSERT INTO public.authors (name) SELECT 'Author ' || g FROM "
            "generate_series(1, 95) g");
        for (Table* t : {&articles_, &authors_}) {
            t->live = s_.sql_column("SELECT id::text FROM public." + t->name);
            t->ever.insert(t->live.begin(), t->live.end());
        }
        sender_ = std::make_unique<Process>(
            std::vector<std::string>{
                SENDER_BIN, "--postgres-url", s_.postgres().url(), "--url",
                "https://127.0.0.1:" + std::to_string(s_.balancer_port()) + "/revalidate",
                "--ca-file", s_.balancer_ca_file(), "--secret", kSecret},
            s_.dir() + "/sender.log");
    }

    void print_addresses() {
        const std::string lb = "https://127.0.0.1:" + std::to_string(s_.balancer_port());
        std::cout << "\nrevalidator cluster on loopback\n"
                  << "  balancer      " << lb << "/revalidate   (Authorization: Bearer " << kSecret
                  << "; curl --cacert " << s_.balancer_ca_file() << ")\n"
                  << "  reads         " << lb << "/articles[/{id}]  " << lb << "/authors[/{uuid}]  "
                  << lb << "/published-articles  " << lb << "/edited-authors\n";
        for (int i = 0; i < 3; ++i) {
            std::cout << "  ingress " << i << "     http://127.0.0.1:" << s_.ingress_port(i)
                      << "/{healthz,readyz,metrics}   (--instance-id it-ingress-" << i << ")\n";
        }
        for (int i = 0; i < 4; ++i) {
            std::cout << "  worker " << i << "      http://127.0.0.1:" << s_.worker_admin_port(i)
                      << "/{readyz,metrics}   (" << (i < 2 ? "articles" : "authors") << ")\n";
        }
        std::cout << "  postgres      " << s_.postgres().url() << "\n"
                  << "  memcached     " << s_.memcached_servers() << "\n"
                  << "  data, logs    " << s_.dir() << "   (removed at the end)\n"
                  << "  workers run   --lease-ttl-ms " << kLeaseTtlMs << " --cache-timeout-ms "
                  << kLeaseTtlMs / 5
                  << " --takeover-delay-ms 200 --retry-max-ms 500 --canary-interval-ms "
                  << kCanaryIntervalMs << "\n"
                  << "  canary        revalidator.canary, one trigger per collection; "
                     "revalidator-stand-in-sender POSTs its webhooks to the balancer\n"
                  << std::endl;
    }

    void run() {
        start_ = Clock::now();
        faults_end_ = start_ + load_;
        canary_mark();
        std::vector<std::thread> threads;
        threads.emplace_back([&] { write(articles_, 40, 1); });
        threads.emplace_back([&] { write(authors_, 15, 2); });
        for (int i = 0; i < 2; ++i) threads.emplace_back([this, i] { read(i); });
        std::thread observer([&] { observe(); });
        inject_faults();
        dead_feed();
        canary_mark();
        loading_ = false;
        for (auto& t : threads) t.join();
        load_end_ = Clock::now();
        converged_ = eventually([&] { return interrupted || divergent().empty(); }, seconds(60));
        converge_s_ = seconds_between(load_end_, Clock::now());
        observing_ = false;
        observer.join();
        for (const auto& key : log_.pending_keys()) observe_key(key);
        final_divergent_ = divergent();
        sender_exit_ = sender_->stop(SIGTERM);
    }

    void report_and_check();

  private:
    // Steady `per_second` changes, and every 10 s a burst of 50 at once.
    void write(Table& t, int per_second, unsigned seed) {
        std::mt19937 rng(seed);
        Db db(s_.postgres().url() + "?connect_timeout=2");
        Sender sender(balancer(), kSecret, sends_, ack_ms_);
        auto next = Clock::now();
        auto next_burst = start_ + seconds(5);
        while (!interrupted && loading_) {
            int changes = 1;
            if (Clock::now() >= next_burst) {
                changes = 50;
                next_burst += seconds(10);
            }
            for (int i = 0; i < changes; ++i) {
                std::optional<Change> c;
                try {
                    c = change(db, t, rng);
                } catch (const std::exception&) {
                    ++change_failures_;  // Postgres is down: no change, so no webhook either
                    std::this_thread::sleep_for(milliseconds(100));
                    break;
                }
                if (!c) continue;
                const auto index = log_.committed(c->key, c->version, c->committed);
                if (!t.muted && sender.send(c->webhook)) log_.acked(index);
            }
            // Pacing: a steady rate, not a synchronisation; a burst or an outage does not build up
            // a debt of changes sent faster afterwards.
            next = std::max(next + milliseconds(1000 / per_second), Clock::now());
            std::this_thread::sleep_until(next);
        }
    }

    // Some 80 reads a second: rows (a live id, which may be deleted before the read), both lists
    // and both views.
    void read(int seed) {
        std::mt19937 rng(100 + seed);
        Reader reader(balancer(), log_, reads_, read_ms_);
        while (!interrupted && loading_) {
            const int roll = static_cast<int>(rng() % 100);
            if (roll < 50) {
                reader.read(
                    {.path = "/articles/" + articles_.any_live(rng), .prefix = "/articles"});
            } else if (roll < 75) {
                reader.read({.path = "/authors/" + authors_.any_live(rng), .prefix = "/authors"});
            } else if (roll < 80) {
                reader.read(
                    {.path = "/articles", .prefix = "/articles", .list = true, .order = "id"});
            } else if (roll < 85) {
                reader.read(
                    {.path = "/authors", .prefix = "/authors", .list = true, .order = "name"});
            } else if (roll < 95) {
                reader.read({.path = "/published-articles",
                             .prefix = "/articles",
                             .list = true,
                             .order = "published",
                             .limit = 50});
            } else {
                reader.read({.path = "/edited-authors",
                             .prefix = "/authors",
                             .list = true,
                             .order = "name",
                             .limit = 10});
            }
            std::this_thread::sleep_for(milliseconds(10));
        }
    }

    // Polls the cache for every change not yet seen, in one multi-get a round, and every tenth
    // round a few random keys, as a reader of the cluster would (through twemproxy). A round takes
    // about a millisecond: a change is seen at most that late, never early.
    void observe() {
        std::mt19937 rng(7);
        for (long round = 0; observing_ && !interrupted; ++round) {
            observe_keys(log_.pending_keys());
            if (round % 10 == 0) {
                for (int i = 0; i < 5; ++i) observe_key("/articles/" + articles_.any_live(rng));
            }
            std::this_thread::sleep_for(milliseconds(1));
        }
    }
    void observe_keys(const std::vector<std::string>& keys) {
        if (keys.empty()) return;
        const auto got = s_.cache_get_many(keys);
        const auto at = Clock::now();
        for (const auto& key : keys) {
            auto it = got.find(key);
            seen(key, it == got.end() ? std::nullopt : std::optional<std::string>(it->second), at);
        }
    }
    void observe_key(const std::string& key) {
        auto v = s_.cache_get(key);
        seen(key, v, Clock::now());
    }
    void seen(const std::string& key, const std::optional<std::string>& value,
              Clock::time_point at) {
        std::optional<int> version;
        if (value) {
            auto row = json::parse(*value, nullptr, false);
            if (!row.is_object()) return;  // the final comparison names a corrupt value
            version = row.value("version", 0);
        }
        log_.observe(key, version, at);
    }

    // Every key that differs from Postgres: rows of every id that ever existed, lists and views.
    // With `since`: only row keys, and not those with a change in flight (committed since `since`
    // or not yet seen), since the load goes on.
    std::vector<std::string> divergent(std::optional<Clock::time_point> since = std::nullopt) {
        std::vector<std::string> out;
        try {
            for (Table* t : {&articles_, &authors_}) {
                std::map<std::string, std::string> rows;
                for (const auto& r :
                     db_.exec("SELECT id::text, to_jsonb(t)::text FROM public." + t->name + " t")) {
                    rows[r[0].as<std::string>()] = r[1].as<std::string>();
                }
                std::set<std::string> ids;
                {
                    std::lock_guard lock(t->mu);
                    ids = t->ever;
                }
                std::vector<std::string> keys;
                for (const auto& id : ids) keys.push_back("/" + t->name + "/" + id);
                const auto cached = s_.cache_get_many(keys);
                for (const auto& id : ids) {
                    const std::string key = "/" + t->name + "/" + id;
                    auto row = rows.find(id);
                    auto have = cached.find(key);
                    const bool equal = row == rows.end()
                                           ? have == cached.end()
                                           : have != cached.end() && have->second == row->second;
                    if (equal || (since && log_.in_flight(key, *since))) continue;
                    out.push_back(key);
                }
            }
            if (!since) {
                for (const auto& [key, query] : kListQueries) {
                    auto want = db_.exec(query)[0][0].as<std::string>();
                    if (s_.cache_get(key) != want) out.push_back(key);
                }
            }
        } catch (const std::exception& e) {
            out.push_back(std::string("(Postgres: ") + e.what() + ")");
        }
        return out;
    }

    Balancer balancer() const { return {s_.balancer_port(), s_.balancer_ca_file()}; }
    void inject_faults();
    void dead_feed();
    // The canary's histograms now, ending the interval outside faults that began at the last mark
    // (if one did) and beginning the next.
    void canary_mark() {
        std::vector<int> ports;
        for (int i = 0; i < 4; ++i) ports.push_back(s_.worker_admin_port(i));
        auto now = canary_histograms(ports);
        if (canary_from_ && now) {
            for (const auto& [collection, h] : *now) {
                const CanaryHistogram& before = (*canary_from_)[collection];
                const auto before_at = [&](double le) {
                    auto it = before.buckets.find(le);
                    return it == before.buckets.end() ? 0.0 : it->second;
                };
                CanaryHistogram& into = canary_outside_[collection];
                bool fell = h.count < before.count;  // a worker restarted meanwhile: not usable
                for (const auto& [le, n] : h.buckets) fell |= n < before_at(le);
                if (fell) continue;
                for (const auto& [le, n] : h.buckets) into.buckets[le] += n - before_at(le);
                into.sum += h.sum - before.sum;
                into.count += h.count - before.count;
            }
        }
        canary_from_ = std::move(now);
    }
    // The interval outside faults ends here; the next begins with canary_mark().
    void canary_unmark() { canary_from_.reset(); }
    double canary_seen(const std::string& collection) {
        return s_.workers_metric("revalidator_canary_beats_seen_total{collection=\"" + collection +
                                 "\"}");
    }
    using Windows = std::vector<std::pair<Clock::time_point, Clock::time_point>>;
    // `windows`: the faults'; `quiet`: theirs and the dead feed's, outside which is "outside".
    void report_nines(const Windows& windows, const Windows& quiet);
    std::string report_dead_feed();
    std::string report_canary();
    Fault& begin_fault(const std::string& what) {
        faults_.push_back({what, Clock::now(), {}});
        std::cout << "[ " << std::fixed << std::setprecision(1)
                  << seconds_between(start_, Clock::now()) << " s ] " << what << std::endl;
        return faults_.back();
    }
    // Polls `collection`'s workers until one other than `old` is active; seconds since `t0`.
    double takeover(const std::string& collection, int old, Clock::time_point t0) {
        int now_active = -1;
        eventually(
            [&] {
                now_active = s_.active_worker(collection);
                return interrupted || (now_active >= 0 && now_active != old);
            },
            seconds(30));
        return now_active >= 0 && now_active != old ? seconds_between(t0, Clock::now()) : -1;
    }
    // Polls until every change committed before the fault's `back` is in the cache and every row
    // key equals Postgres (keys with a change in flight aside), or `until`.
    void measure_convergence(Fault& f, Clock::time_point until) {
        while (!interrupted && Clock::now() < until) {
            const auto t = Clock::now();
            if (log_.seen_all_before(f.back) && divergent(t).empty()) {
                f.converged_s = std::max(0.0, seconds_between(f.back, Clock::now()));
                break;
            }
            std::this_thread::sleep_for(milliseconds(50));
        }
        std::cout << "           converged "
                  << (f.converged_s < 0 ? std::string("NOT before the next fault")
                                        : std::to_string(f.converged_s) + " s after")
                  << (f.takeover_s >= 0
                          ? "; standby active " + std::to_string(f.takeover_s) + " s after"
                          : "")
                  << std::endl;
    }

    seconds load_;
    Stack s_;
    Db db_{s_.postgres().url() + "?connect_timeout=2"};
    Table articles_{"articles", false}, authors_{"authors", true};
    ChangeLog log_;
    SendCounts sends_;
    ReadCounts reads_;
    Samples ack_ms_, read_ms_;
    std::atomic<long> change_failures_{0};
    std::atomic<bool> observing_{true};
    std::vector<Fault> faults_;
    Clock::time_point start_, faults_end_, load_end_;
    std::atomic<bool> loading_{true};
    std::unique_ptr<Process> sender_;
    int sender_exit_ = -1;
    DeadFeed dead_;
    std::optional<CanaryHistograms> canary_from_;
    CanaryHistograms canary_outside_;
    bool converged_ = false;
    double converge_s_ = 0;
    std::vector<std::string> final_divergent_;
};

// Five kinds, in turn, on a fixed schedule from the start (a fault that takes longer on a loaded
// machine does not push the others out of the run).
void Cluster::inject_faults() {
    const auto interval =
        std::clamp(duration_cast<milliseconds>(load_) / 6, milliseconds(8000), milliseconds(30000));
    for (int k = 0; start_ + (k + 1) * interval < faults_end_ && !interrupted; ++k) {
        pause_until(start_ + (k + 1) * interval);
        if (interrupted) break;
        const auto next = start_ + (k + 2) * interval;
        canary_mark();
        canary_unmark();
        switch (k % 5) {
            case 0: {
                const int i = (k / 5) % 3;
                Fault& f = begin_fault("kill -9 ingress " + std::to_string(i) + ", restart in 1 s");
                s_.ingress(i).stop(SIGKILL);
                pause_until(f.start + seconds(1));
                s_.start_ingress(i);
                f.back = Clock::now();
                measure_convergence(f, next);
                break;
            }
            case 1: {
                const int a = s_.active_worker("articles");
                Fault& f = begin_fault("kill -9 articles' active worker " + std::to_string(a));
                if (a >= 0) s_.worker(a).stop(SIGKILL);
                f.back = f.start;
                f.takeover_s = takeover("articles", a, f.start);
                if (a >= 0) s_.start_worker(a, false);  // the new standby
                measure_convergence(f, next);
                break;
            }
            case 2: {
                const int i = (k / 5) % 3;
                Fault& f = begin_fault("kill -9 memcached " + std::to_string(i) +
                                       ", restart empty in 1 s");
                s_.memcached(i).process().stop(SIGKILL);
                pause_until(f.start + seconds(1));
                s_.memcached(i).stop();
                s_.memcached(i).start();
                f.back = Clock::now();
                measure_convergence(f, next);
                break;
            }
            case 3: {
                const int a = s_.active_worker("authors");
                Fault& f = begin_fault("SIGSTOP authors' active worker " + std::to_string(a) +
                                       " for " + std::to_string(kLeaseTtlMs + 1500) +
                                       " ms (lease " + std::to_string(kLeaseTtlMs) + " ms)");
                if (a >= 0) {
                    Frozen frozen(s_.worker(a));
                    f.takeover_s = takeover("authors", a, f.start);
                    pause_until(f.start + milliseconds(kLeaseTtlMs + 1500));
                }
                f.back = Clock::now();
                measure_convergence(f, next);
                break;
            }
            case 4: {
                Fault& f = begin_fault("stop postgres for 3 s");
                s_.postgres().stop();
                pause_until(f.start + seconds(3));
                s_.postgres().start();
                f.back = Clock::now();
                measure_convergence(f, next);
                break;
            }
        }
        // The canary's figures outside faults: from the end of this fault's window on.
        if (const auto outside = faults_.back().back + seconds(2); outside < next) {
            pause_until(outside);
            canary_mark();
        }
    }
}

// The articles' webhooks stop for one fault interval: its writer commits and sends nothing, its
// canary trigger is dropped. The articles' active worker must name the silent feed within 3
// canary intervals, while the authors' canary beats on; then the webhooks come back, and the load
// runs 3 s more with the feed flowing.
void Cluster::dead_feed() {
    if (interrupted) return;
    pause_until(faults_end_);
    const auto length =
        std::clamp(duration_cast<milliseconds>(load_) / 6, milliseconds(8000), milliseconds(30000));
    canary_mark();
    canary_unmark();
    const auto sql = [&](const std::string& query) {
        // Once more after a broken connection: Db reconnects on the next call.
        for (int attempt = 0;; ++attempt) {
            try {
                return db_.exec(query);
            } catch (const pqxx::broken_connection&) {
                if (attempt > 0) throw;
            }
        }
    };
    const auto silent = [&](int worker) {
        return scrape(s_.worker_admin_port(worker),
                      "revalidator_canary_silent{collection=\"articles\"}") == 1;
    };
    dead_.table = "articles";
    const double authors_before = canary_seen("authors");
    // From the writer's last webhook on, so that every change left unannounced falls in the dead
    // feed's window.
    dead_.stopped = Clock::now();
    articles_.muted = true;
    sql("DROP TRIGGER canary_articles ON revalidator.canary");
    std::cout << "[ " << std::fixed << std::setprecision(1)
              << seconds_between(start_, dead_.stopped) << " s ] dead feed: the articles' "
              << "webhooks stopped for " << duration<double>(length).count()
              << " s (its changes still committed; its canary trigger dropped)" << std::endl;
    const auto restore_at = dead_.stopped + length;
    int active = -1;
    while (!interrupted && Clock::now() < restore_at) {
        active = s_.active_worker("articles");
        if (active >= 0 && silent(active)) {
            dead_.noticed_s = seconds_between(dead_.stopped, Clock::now());
            httplib::Client c("127.0.0.1", s_.worker_admin_port(active));
            c.set_read_timeout(2, 0);
            if (auto r = c.Get("/readyz")) {
                const auto body = json::parse(r->body, nullptr, false);
                if (body.is_object()) {
                    dead_.readiness = body.value("/detail/canary"_json_pointer, json::object());
                }
            }
            break;
        }
        std::this_thread::sleep_for(milliseconds(100));
    }
    std::cout << "           silent feed named by worker " << active << " "
              << (dead_.noticed_s < 0 ? std::string("NEVER")
                                      : std::to_string(dead_.noticed_s) + " s after the stop")
              << "; readiness detail " << dead_.readiness.dump() << std::endl;
    pause_until(restore_at);
    const int authors_active = s_.active_worker("authors");
    dead_.others_silent =
        authors_active < 0 || scrape(s_.worker_admin_port(authors_active),
                                     "revalidator_canary_silent{collection=\"authors\"}") != 0;
    dead_.others_beats = canary_seen("authors") - authors_before;
    sql(canary_trigger("articles"));
    articles_.muted = false;
    dead_.restored = Clock::now();
    std::cout << "[ " << std::fixed << std::setprecision(1)
              << seconds_between(start_, dead_.restored) << " s ] dead feed: the articles' "
              << "webhooks back; the authors' canary beat " << static_cast<long>(dead_.others_beats)
              << " times meanwhile" << std::endl;
    bool back = false;
    eventually(
        [&] {
            active = s_.active_worker("articles");
            back = active >= 0 && !silent(active);
            return interrupted || back;
        },
        seconds(10));
    if (back) dead_.back_s = seconds_between(dead_.restored, Clock::now());
    pause_until(dead_.restored + seconds(2));
    canary_mark();
    pause_until(dead_.restored + seconds(3));
}

// The share of changes visible within 10 ms, 100 ms, 1 s and 5 s of their commit, outside faults
// and during each fault (the fault windows of the figures above), beside the goals.
void Cluster::report_nines(const Windows& windows, const Windows& quiet) {
    Samples visible_ms;
    log_.visibility(visible_ms);
    Samples::Split all{visible_ms.split(windows).during, visible_ms.split(quiet).outside};
    std::cout << "  visible after commit   (commit: Postgres' clock_timestamp(); visible: the "
                 "observer's first read that shows it)\n"
              << "    outside faults       " << nines(all.outside) << "\n"
              << "    during faults        " << nines(all.during) << "\n";
    for (std::size_t i = 0; i < faults_.size(); ++i) {
        std::cout << "      " << std::left << std::setw(62) << faults_[i].what << std::right << " "
                  << nines(visible_ms.between(windows[i].first, windows[i].second)) << "\n";
    }
    if (dead_.restored != Clock::time_point{}) {
        Samples dead_ms;
        log_.visibility(dead_ms, "/" + dead_.table + "/");
        auto stale = dead_ms.between(dead_.stopped, dead_.restored);
        const double latest = stale.empty() ? 0 : *std::max_element(stale.begin(), stale.end());
        std::cout << "    during the dead feed " << nines(stale) << "; the latest after "
                  << std::fixed << std::setprecision(2) << latest / 1000 << " s\n"
                  << "                         (the " << dead_.table
                  << "' changes while its webhooks were stopped, each healed by the repair pass; "
                     "both tables' changes then are left out of \"outside faults\")\n";
    }
    const auto goal = [](const std::vector<double>& ms, double bound, double want) {
        const double got = share_within(ms, bound);
        return percent(got) + (ms.empty() ? " (no changes)" : got >= want ? " met" : " MISSED");
    };
    std::cout << "    goals                outside faults >= 99.99 % within 1 s: "
              << goal(all.outside, 1000, 99.99)
              << "; >= 99.9 % within 100 ms: " << goal(all.outside, 100, 99.9)
              << "; during faults >= 99.9 % within 5 s: " << goal(all.during, 5000, 99.9) << "\n"
              << "                         (" << all.outside.size() << " and " << all.during.size()
              << " changes: a share closer to 100 % than one change in that many cannot be "
                 "told from 100 %)\n";
}

namespace {

// The bound of the bucket that holds the `p`th percentile (0-100) of `h`, in ms.
double bucket_percentile_ms(const CanaryHistogram& h, double p) {
    for (const auto& [le, n] : h.buckets) {
        if (n >= h.count * p / 100) return le * 1000;
    }
    return std::numeric_limits<double>::infinity();
}

}  // namespace

std::string Cluster::report_dead_feed() {
    std::ostringstream out;
    if (dead_.restored == Clock::time_point{}) return "not run (interrupted)";
    const double bound_s = 3 * kCanaryIntervalMs / 1000.0 + duration<double>(kScrapeMargin).count();
    out << std::fixed << std::setprecision(2) << dead_.table << "' webhooks stopped "
        << seconds_between(dead_.stopped, dead_.restored) << " s: silent feed named ";
    if (dead_.noticed_s < 0) {
        out << "NEVER";
    } else {
        out << dead_.noticed_s << " s";
    }
    out << " after the stop (bound 3 x " << kCanaryIntervalMs << " ms + " << kScrapeMargin.count()
        << " ms scrape margin: "
        << (dead_.noticed_s >= 0 && dead_.noticed_s <= bound_s ? "met" : "MISSED")
        << "; /readyz detail " << dead_.readiness.dump() << ");\n"
        << "                         the authors' canary beat "
        << static_cast<long>(dead_.others_beats) << " times meanwhile, silent "
        << (dead_.others_silent ? "YES" : "no") << "; the " << dead_.table << "' feed back ";
    if (dead_.back_s < 0) {
        out << "NOT within 10 s";
    } else {
        out << dead_.back_s << " s after the restore";
    }
    return out.str();
}

std::string Cluster::report_canary() {
    std::ostringstream out;
    out << std::fixed << std::setprecision(0);
    std::string sep;
    for (const auto& [collection, h] : canary_outside_) {
        out << sep << collection << " ";
        sep = "; ";
        if (h.count == 0) {
            out << "no beats";
            continue;
        }
        out << "p50 <= " << bucket_percentile_ms(h, 50)
            << " ms, p99 <= " << bucket_percentile_ms(h, 99) << " ms, mean " << std::setprecision(1)
            << 1000 * h.sum / h.count << std::setprecision(0) << " ms (" << h.count << " beats)";
    }
    if (canary_outside_.empty()) out << "no beats";
    return out.str();
}

void Cluster::report_and_check() {
    // During a fault: from its start until 2 s after its component is back.
    Windows windows;
    for (const auto& f : faults_) windows.emplace_back(f.start, f.back + seconds(2));
    // Outside faults is outside the dead feed, too (until 2 s after its webhooks are back).
    Windows quiet = windows;
    if (dead_.restored != Clock::time_point{}) {
        quiet.emplace_back(dead_.stopped, dead_.restored + seconds(2));
    }
    const auto split = [&](const Samples& samples) {
        return Samples::Split{samples.split(windows).during, samples.split(quiet).outside};
    };
    auto acks = split(ack_ms_);
    auto reads = split(read_ms_);
    auto log = log_.summary();
    auto counters = balancer_counters(s_.balancer_stats_port());
    auto& lb = counters["BACKEND"];
    Samples staleness_ms;
    log_.staleness(staleness_ms);
    auto stale = split(staleness_ms);
    auto line = [](const char* what, std::vector<double>& v) {
        std::ostringstream out;
        out << std::fixed << std::setprecision(1) << std::left << std::setw(25) << what
            << std::right << "p50 " << percentile(v, 50) << " ms, p99 " << percentile(v, 99)
            << " ms, max " << percentile(v, 100) << " ms (" << v.size() << ")";
        return out.str();
    };
    const double ack_p99_outside = percentile(acks.outside, 99);
    std::cout << "\n== verdict (load " << load_.count() << " s, " << faults_.size()
              << " faults) ==\n"
              << "  divergent keys         " << final_divergent_.size() << " (every row of both "
              << "tables, /articles, /published-articles, /authors, /edited-authors; converged "
              << (converged_ ? "" : "NOT ") << std::setprecision(1) << converge_s_
              << " s after the load)\n"
              << "  backwards moves        " << log.backwards << "\n"
              << "  acks lost              " << log.acked_unseen << " of " << log.acked
              << " acknowledged changes never seen in the cache\n"
              << "  wrong reads            " << reads_.wrong << " of " << reads_.reads << "\n"
              << "  webhooks unanswered    " << sends_.unanswered_for_good << " after retries\n"
              << "  dead feed              " << report_dead_feed() << "\n"
              << "\n== figures ==\n"
              << "  changes                " << log.changes << " (" << change_failures_
              << " refused while Postgres was down)\n"
              << "  webhooks               " << sends_.webhooks << ": acked first try "
              << sends_.acked_first_try << ", acked after a retry " << sends_.acked_after_retry
              << ", refused for good " << sends_.refused_for_good << "; attempts answered 503 "
              << sends_.attempts_503 << ", attempts unanswered " << sends_.attempts_unanswered
              << "\n"
              << "  balancer               retried " << lb["wretr"] << " attempts, redispatched "
              << lb["wredis"] << " to another ingress; failed connections " << lb["econ"]
              << ", failed answers " << lb["eresp"] << "; requests per ingress "
              << counters["ingress0"]["stot"] << " / " << counters["ingress1"]["stot"] << " / "
              << counters["ingress2"]["stot"] << "\n"
              << "  unacked changes healed " << log.unacked_seen << " of "
              << log.changes - log.acked << "\n"
              << "  " << line("ack outside faults", acks.outside)
              << "   target p99 <= 10 ms: " << (ack_p99_outside <= 10 ? "met" : "MISSED") << "\n"
              << "  " << line("ack during faults", acks.during) << "\n"
              << "  " << line("read outside faults", reads.outside) << "\n"
              << "  " << line("read during faults", reads.during) << "\n"
              << "  reads                  " << reads_.reads << ": 200 " << reads_.ok << ", 404 "
              << reads_.not_found << ", 503 " << reads_.refused << ", failed " << reads_.failed
              << "\n"
              << "  " << line("staleness outside faults", stale.outside) << "   (commit to cache)\n"
              << "  " << line("staleness during faults", stale.during) << "\n"
              << "  canary outside faults  " << report_canary()
              << "   (commit -> visible, the workers' histograms; bucket bounds)\n"
              << "  convergence per fault  (target <= 2 s after the component is back; a "
                 "takeover <= 2 s after the kill)\n";
    bool all_converged = true;
    for (const auto& f : faults_) {
        std::cout << "    " << std::left << std::setw(62) << f.what << std::right;
        if (f.converged_s < 0) {
            std::cout << "NOT converged before the next fault";
            all_converged = false;
        } else {
            std::cout << std::setprecision(2) << f.converged_s << " s "
                      << (f.converged_s <= 2 ? "met" : "MISSED");
        }
        if (f.takeover_s >= 0) std::cout << "; takeover " << f.takeover_s << " s";
        std::cout << "\n";
    }
    report_nines(windows, quiet);
    std::cout << std::endl;
    for (const auto& key : final_divergent_) {
        std::cerr << "divergent " << key << ": cache " << s_.cache_get(key).value_or("(absent)")
                  << "\n";
    }

    EXPECT_FALSE(interrupted) << "interrupted";
    EXPECT_TRUE(converged_);
    EXPECT_EQ(final_divergent_.size(), 0u);
    EXPECT_EQ(log.backwards, 0);
    EXPECT_EQ(log.acked_unseen, 0);
    EXPECT_EQ(reads_.wrong, 0);
    EXPECT_EQ(sends_.unanswered_for_good, 0);
    EXPECT_EQ(sends_.rejected, 0);
    EXPECT_GE(faults_.size(), 5u) << "every kind of fault runs";
    EXPECT_TRUE(all_converged) << "each fault's changes reach the cache before the next fault";
    EXPECT_GE(dead_.noticed_s, 0) << "the dead feed is named";
    EXPECT_LE(dead_.noticed_s,
              3 * kCanaryIntervalMs / 1000.0 + duration<double>(kScrapeMargin).count())
        << "within 3 canary intervals and the scrape margin";
    EXPECT_EQ(dead_.readiness.value("collection", ""), dead_.table);
    EXPECT_EQ(dead_.readiness.value("silent", false), true);
    EXPECT_GT(dead_.others_beats, 0) << "the authors' canary beats on through the dead feed";
    EXPECT_FALSE(dead_.others_silent);
    EXPECT_GE(dead_.back_s, 0) << "the articles' silence ends once its webhooks are back";
    EXPECT_EQ(sender_exit_, 0) << read_file(s_.dir() + "/sender.log");
    if (::testing::Test::HasFailure()) std::cerr << s_.diagnostics() << "\n";
}

}  // namespace

TEST(Cluster, ScaledOutDeploymentUnderLoadAndFaults) {
    catch_interrupts();
    const char* secs = std::getenv("CLUSTER_SECONDS");
    Cluster cluster(seconds(secs ? std::atoi(secs) : 60));
    cluster.print_addresses();
    if (const char* hold = std::getenv("CLUSTER_HOLD"); hold && *hold) {
        std::cout << "Holding; Ctrl-C stops everything." << std::endl;
        while (!interrupted) std::this_thread::sleep_for(milliseconds(200));
        return;
    }
    cluster.run();
    cluster.report_and_check();
}
