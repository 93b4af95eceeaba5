// One worker process serving two tables (--collection articles,authors with an endpoint each;
// docs/configuration.md, "One worker, several tables"), and a standby process serving the same
// two. Each table keeps a lease, connections and a thread of its own in the process: its series
// are labelled apart, a table whose reads hang never pauses the other, and a killed process hands
// both tables to the standby.
#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <sstream>

#include <pqxx/pqxx>

#include "stack.hpp"

using namespace revalidator::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr const char* kAdminSecret = "admin-s3cret";

struct Options {
    static StackOptions get() {
        // The lease outlasts a freeze of the active worker while --verify runs (below).
        return {.worker_args = {"--admin-secret", kAdminSecret, "--lease-ttl-ms", "15000"},
                .workers = 2,
                .authors = true,
                .shared_workers = true};
    }
};

class SharedWorker : public SharedStack<Options> {
  protected:
    static std::optional<std::string> row(const std::string& table, const std::string& id) {
        return stack->sql("SELECT to_jsonb(t)::text FROM public." + table +
                          " t WHERE id::text = '" + id + "'");
    }
    static std::string webhook_for(const std::string& table, const std::string& id) {
        json rec = json::parse(*row(table, id));
        return Stack::webhook_body("UPDATE", rec, rec, table);
    }
    // Changes the row, sends its webhook and returns the body the cache must come to hold.
    static std::string edit(const std::string& table, const std::string& id) {
        stack->sql("UPDATE public." + table + " SET version = version + 1 WHERE id::text = '" + id +
                   "'");
        EXPECT_EQ(stack->webhook(webhook_for(table, id))->status, 202);
        return *row(table, id);
    }
    static bool holds(const std::string& key, const std::string& value,
                      std::chrono::milliseconds timeout = 10s) {
        return eventually([&] { return stack->cache_get(key) == value; }, timeout);
    }
    static std::string series(const std::string& name, const std::string& collection) {
        return name + "{collection=\"" + collection + "\"}";
    }
    static std::string an_author() {
        return *stack->sql("SELECT id::text FROM public.authors ORDER BY name LIMIT 1");
    }
};

TEST_F(SharedWorker, OneProcessKeepsBothTablesWithTheirSeriesApart) {
    ASSERT_EQ(stack->active_worker("articles"), 0);
    ASSERT_EQ(stack->active_worker("authors"), 0);
    const auto author = an_author();
    EXPECT_TRUE(holds("/authors/" + author, edit("authors", author)));
    EXPECT_TRUE(holds("/articles/1", edit("articles", "1")));

    for (const char* c : {"articles", "authors"}) {
        SCOPED_TRACE(c);
        EXPECT_EQ(stack->worker_metric(series("revalidator_worker_active", c), 0), 1);
        EXPECT_EQ(stack->worker_metric(series("revalidator_worker_active", c), 1), 0);
        EXPECT_GE(stack->worker_metric(series("revalidator_worker_events_total", c), 0), 1);
        EXPECT_EQ(stack->worker_metric(series("revalidator_worker_events_foreign_total", c), 0), 0)
            << "an event of the other table reached this table's inbox";
    }
    EXPECT_EQ(stack->worker_metric("revalidator_worker_active", 0), 0)
        << "a worker serving two tables has no unlabelled series of a table";

    // Every line about one table names it, whichever of its threads wrote it.
    std::map<std::string, int> lines_of;
    std::istringstream log(read_file(stack->worker(0).log_path()));
    for (std::string line; std::getline(log, line);) {
        const auto j = json::parse(line, nullptr, false);
        if (j.is_discarded()) continue;
        const auto msg = j.value("msg", "");
        if (msg.starts_with("active: lease taken") || msg.starts_with("resync done")) {
            ++lines_of[j.value("collection", "(none)")];
        }
    }
    EXPECT_GE(lines_of["articles"], 2) << "the lease and the first resync of articles";
    EXPECT_GE(lines_of["authors"], 2) << "the lease and the first resync of authors";
    EXPECT_EQ(lines_of.count("(none)"), 0u) << "a line about one table without its collection";

    // An operator's resync of one table leaves the other alone.
    const double articles =
        stack->worker_metric(series("revalidator_worker_resyncs_total", "articles"));
    const double authors =
        stack->worker_metric(series("revalidator_worker_resyncs_total", "authors"));
    httplib::Client admin("127.0.0.1", stack->worker_admin_port(0));
    auto r =
        admin.Post("/resync/authors", {{"Authorization", std::string("Bearer ") + kAdminSecret}},
                   "", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 202) << r->body;
    EXPECT_TRUE(eventually([&] {
        return stack->worker_metric(series("revalidator_worker_resyncs_total", "authors")) >
               authors;
    }));
    EXPECT_EQ(stack->worker_metric(series("revalidator_worker_resyncs_total", "articles")),
              articles);
}

TEST_F(SharedWorker, ATableWhoseReadsHangNeverPausesTheOther) {
    const auto author = an_author();
    const auto before = stack->cache_get("/authors/" + author);
    stack->sql("UPDATE public.authors SET version = version + 1 WHERE id::text = '" + author + "'");
    const auto authors_body = webhook_for("authors", author);
    const auto authors_row = *row("authors", author);

    const auto received = [] {
        return stack->worker_metric(series("revalidator_worker_events_total", "authors"));
    };
    const double received_before = received();

    // Every read of public.authors now waits for this lock, the authors' batch with it.
    pqxx::connection locker(stack->postgres().url());
    pqxx::work lock(locker);
    lock.exec("LOCK TABLE public.authors IN ACCESS EXCLUSIVE MODE");
    ASSERT_EQ(stack->webhook(authors_body)->status, 202);
    ASSERT_TRUE(eventually([&] { return received() > received_before; }))
        << "the authors' event never reached its table";

    for (const char* id : {"2", "3"}) {
        EXPECT_TRUE(holds(std::string("/articles/") + id, edit("articles", id)))
            << "articles stopped while authors' reads hang";
    }
    EXPECT_EQ(stack->cache_get("/authors/" + author), before)
        << "the authors' batch was not held by the lock: the test shows nothing";

    lock.abort();
    EXPECT_TRUE(holds("/authors/" + author, authors_row)) << "authors did not resume";
}

TEST_F(SharedWorker, VerifyComparesEachServedTable) {
    TempDir dir;
    const auto verify = [&](const std::string& name) {
        const std::string log = dir.path() + "/" + name + ".log";
        const int code =
            run({WORKER_BIN, "--verify", "--config", stack->collections_file(), "--collection",
                 "articles,authors", "--bind", "tcp://127.0.0.1:1,tcp://127.0.0.1:2",
                 "--postgres-url", stack->postgres().url(), "--memcached",
                 stack->memcached_servers(), "--log-level", "warn"},
                log);
        return std::make_pair(code, read_file(log));
    };
    const auto author = an_author();
    ASSERT_TRUE(holds("/authors/" + author, *row("authors", author)));

    auto [code, out] = verify("equal");
    EXPECT_EQ(code, 0) << out;
    for (const char* table : {"public.articles", "public.authors"}) {
        EXPECT_NE(out.find(table), std::string::npos) << table << " not verified:\n" << out;
    }

    // The active worker's anti-entropy pass would heal it before --verify reads it: frozen
    // meanwhile, for well under its lease.
    ASSERT_EQ(stack->active_worker("authors"), 0);
    {
        Frozen active(stack->worker(0));
        stack->cache_set("/authors/" + author, R"({"name": "someone else"})");
        std::tie(code, out) = verify("differs");
    }
    EXPECT_EQ(code, 1) << out;
    EXPECT_NE(out.find("wrong /authors/" + author), std::string::npos) << out;
    EXPECT_EQ(out.find("wrong /articles"), std::string::npos) << out;
    EXPECT_TRUE(holds("/authors/" + author, *row("authors", author)))
        << "the anti-entropy pass did not heal it";
}

TEST_F(SharedWorker, AKilledProcessHandsBothTablesToTheStandby) {
    stack->worker(0).stop(SIGKILL);
    ASSERT_TRUE(eventually(
        [] {
            return stack->active_worker("articles") == 1 && stack->active_worker("authors") == 1;
        },
        30s))
        << stack->diagnostics();
    const auto author = an_author();
    EXPECT_TRUE(holds("/authors/" + author, edit("authors", author)));
    EXPECT_TRUE(holds("/articles/4", edit("articles", "4")));
    stack->start_worker(0, false);
}

}  // namespace
