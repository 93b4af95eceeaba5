// Two collections declared once in a config file ([[collection]], docs/configuration.md,
// "Collections", written by the Stack) and served by one ingress and a worker each:
// public.articles (a bigint key) and public.authors (a uuid key, Supabase's default, listed by
// name). Each table's events reach its
// own worker only, each is read under its own prefix, and one table's worker down never stops the
// other's updates nor resyncs it.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

#include "stack.hpp"

using namespace revalidator::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// A view of articles: the three newest edited ones (version > 1), their id and title only.
constexpr const char* kRecentView = R"([[collection.view]]
name = "recent"
key = "/recent-articles"
filter = "version > 1"
order-by = "published_at DESC"
limit = 3
columns = ["id", "title"]
)";
const std::string kRecentSql =
    "SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'title', title) ORDER BY published_at "
    "DESC, id)::text, '[]') FROM (SELECT * FROM public.articles WHERE version > 1 ORDER BY "
    "published_at DESC, id LIMIT 3) t";

// A view of the uuid-keyed authors: every one, by name, without their version.
constexpr const char* kNamesView = R"([[collection.view]]
name = "names"
key = "/author-names"
order-by = "name"
columns = ["id", "name"]
)";
const std::string kNamesSql =
    "SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'name', name) ORDER BY name, "
    "id)::text, "
    "'[]') FROM public.authors";

struct Options {
    static StackOptions get() {
        return {.authors = true, .articles_views = kRecentView, .authors_views = kNamesView};
    }
};

class Collections : public SharedStack<Options> {
  protected:
    static constexpr int kArticles = 0, kAuthors = 1;  // the workers' indexes

    static int readyz_status(int port) {
        httplib::Client c("127.0.0.1", port);
        c.set_read_timeout(1, 0);
        auto r = c.Get("/readyz");
        return r ? r->status : 0;
    }
    // The webhook Supabase sends for `table`'s row `id` as it is now.
    static std::string webhook_for(const std::string& table, const std::string& type,
                                   const std::string& id) {
        json rec = json::parse(*row(table, id));
        return Stack::webhook_body(type, rec, type == "INSERT" ? json(nullptr) : rec, table);
    }
    static std::optional<std::string> row(const std::string& table, const std::string& id) {
        return stack->sql("SELECT to_jsonb(t)::text FROM public." + table +
                          " t WHERE id::text = '" + id + "'");
    }
    static std::string list(const std::string& table, const std::string& order) {
        return *stack->sql("SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY " + order +
                           ")::text, '[]') FROM public." + table + " t");
    }
    static std::optional<std::string> read(const std::string& path) {
        httplib::Client c("127.0.0.1", stack->ingress_port());
        auto r = c.Get(path);
        if (!r || r->status != 200) return std::nullopt;
        return r->body;
    }
    // Polls until the row's key and the table's list, read through the ingress, equal Postgres.
    static bool converges(const std::string& table, const std::string& id,
                          const std::string& order) {
        return eventually([&] {
            return stack->cache_get("/" + table + "/" + id) == row(table, id) &&
                   read("/" + table) == list(table, order);
        });
    }
};

TEST_F(Collections, EachTablesWebhooksReachItsOwnWorkerAndItsOwnKeys) {
    const auto author =
        *stack->sql("INSERT INTO public.authors (name) VALUES ('Mia') RETURNING id");
    ASSERT_EQ(stack->webhook(webhook_for("authors", "INSERT", author))->status, 202);
    stack->sql("UPDATE public.articles SET title = 'Renamed' WHERE id = 1");
    ASSERT_EQ(stack->webhook(webhook_for("articles", "UPDATE", "1"))->status, 202);

    EXPECT_TRUE(converges("authors", author, "t.name, t.id"));
    EXPECT_TRUE(converges("articles", "1", "t.id"));
    EXPECT_TRUE(eventually([] {
        return stack->cache_get("/author-names") == stack->sql(kNamesSql);
    })) << stack->cache_get("/author-names").value_or("(absent)");
    EXPECT_NE(stack->cache_get("/author-names")->find(author), std::string::npos);
    EXPECT_EQ(read("/authors/" + author), row("authors", author));
    EXPECT_EQ(read("/articles/1"), row("articles", "1"));
    for (const auto& [w, c] : {std::pair{kArticles, "articles"}, std::pair{kAuthors, "authors"}}) {
        EXPECT_EQ(stack->worker_metric(std::string("revalidator_worker_events_foreign_total{") +
                                           "collection=\"" + c + "\"}",
                                       w),
                  0)
            << "an event of another table reached worker " << w;
    }
    EXPECT_GE(
        stack->ingress_metric(R"(revalidator_ingress_events_sent_total{collection="authors"})"), 1);
}

TEST_F(Collections, AViewHoldsTheRowsItsFilterKeepsInItsOrderUpToItsLimit) {
    auto edit = [](const std::string& id, const std::string& set) {
        stack->sql("UPDATE public.articles SET " + set + " WHERE id = " + id);
        ASSERT_EQ(stack->webhook(webhook_for("articles", "UPDATE", id))->status, 202);
    };
    auto view_is_postgres = [] {
        return eventually(
            [] { return stack->cache_get("/recent-articles") == stack->sql(kRecentSql); });
    };
    // Rows enter the view as they pass its filter, newest first, three at most.
    for (const char* id : {"1", "2", "3", "4"}) {
        edit(id, "version = version + 1, published_at = now() + interval '" + std::string(id) +
                     " minutes'");
    }
    ASSERT_TRUE(view_is_postgres()) << stack->cache_get("/recent-articles").value_or("(absent)");
    auto recent = json::parse(*stack->cache_get("/recent-articles"));
    ASSERT_EQ(recent.size(), 3u);
    EXPECT_EQ(recent[0], json({{"id", 4}, {"title", json::parse(*row("articles", "4"))["title"]}}));

    // A row that leaves the filter leaves the view, and the next one in order takes its place.
    edit("4", "version = 1");
    ASSERT_TRUE(view_is_postgres()) << stack->cache_get("/recent-articles").value_or("(absent)");
    EXPECT_EQ(json::parse(*stack->cache_get("/recent-articles"))[2]["id"], 1);

    // The ingress serves a view as it serves a list, and nothing under it.
    EXPECT_EQ(read("/recent-articles"), stack->sql(kRecentSql));
    httplib::Client c("127.0.0.1", stack->ingress_port());
    auto under = c.Get("/recent-articles/1");
    ASSERT_TRUE(under);
    EXPECT_EQ(under->status, 404);
    EXPECT_GE(
        stack->ingress_metric(
            R"(revalidator_ingress_reads_total{collection="articles",view="recent",route="list",result="hit"})"),
        1);
}

TEST_F(Collections, AnEvictedViewIsWrittenAgainWithoutAnyChange) {
    ASSERT_TRUE(
        eventually([] { return stack->cache_get("/author-names") == stack->sql(kNamesSql); }));
    const std::string divergences =
        R"(revalidator_worker_divergences_total{collection="authors",kind="view"})";
    const double before = stack->worker_metric(divergences, kAuthors);
    stack->cache_delete("/author-names");
    EXPECT_TRUE(eventually([] {
        return stack->cache_get("/author-names") == stack->sql(kNamesSql);
    })) << "the anti-entropy pass did not bring the view back";
    EXPECT_EQ(stack->worker_metric(divergences, kAuthors), before + 1);
}

TEST_F(Collections, AViewPostgresRefusesStopsTheWorkerNamingIt) {
    TempDir dir;
    const std::string file = dir.path() + "/bad-view.toml";
    std::ofstream(file) << "[[collection]]\nname = \"articles\"\ntable = \"public.articles\"\n"
                           "[[collection.view]]\nname = \"broken\"\nkey = \"/broken\"\n"
                           "filter = \"no_such_column > 1\"\n";
    const std::string log = dir.path() + "/worker.log";
    Process worker({WORKER_BIN, "--config", file, "--postgres-url", stack->postgres().url(),
                    "--memcached", stack->memcached_servers(), "--admin-port", "0", "--bind",
                    "tcp://127.0.0.1:" + std::to_string(free_port())},
                   log);
    const auto code = worker.wait_for(std::chrono::seconds(20));
    ASSERT_TRUE(code.has_value()) << "the worker did not stop:\n" << read_file(log);
    EXPECT_EQ(*code, 64) << read_file(log);
    EXPECT_NE(read_file(log).find(R"(view \"broken\")"), std::string::npos) << read_file(log);
    EXPECT_NE(read_file(log).find("no_such_column"), std::string::npos) << read_file(log);
}

TEST_F(Collections, AWebhookForATableNoCollectionDeclaresIs422NamingThoseServed) {
    auto r = stack->webhook(json{
        {"type", "INSERT"},
        {"table", "notes"},
        {"schema", "public"},
        {"record", {{"id", 1}}},
        {"old_record", nullptr}}.dump());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 422);
    EXPECT_NE(r->body.find(R"(\"public.articles\", \"public.authors\")"), std::string::npos)
        << r->body;
}

TEST_F(Collections, OneTablesWorkerDownNeverStopsTheOtherTable) {
    const double articles_resyncs = stack->worker_metric(
        "revalidator_worker_resyncs_total{collection=\"articles\"}", kArticles);
    stack->worker(kAuthors).stop(SIGKILL);
    // The ingress stays ready: taking it out of the balancer would stop the other table too.
    ASSERT_TRUE(eventually([] {
        return readyz_status(stack->ingress_port()) == 200 &&
               stack->ingress_worker_peers("authors") == 0 &&
               stack->ingress_worker_peers("articles") == 1;
    })) << "the ingress shows which table has no worker, and stays ready";

    stack->sql("UPDATE public.articles SET title = 'While authors is down' WHERE id = 2");
    ASSERT_EQ(stack->webhook(webhook_for("articles", "UPDATE", "2"))->status, 202);
    EXPECT_TRUE(converges("articles", "2", "t.id"));

    // Acknowledged while its worker is down: queued in the ingress, delivered once it is back.
    stack->sql("UPDATE public.authors SET version = version + 1 WHERE name = 'Author 2'");
    const auto author = *stack->sql("SELECT id FROM public.authors WHERE name = 'Author 2'");
    ASSERT_EQ(stack->webhook(webhook_for("authors", "UPDATE", author))->status, 202);
    stack->start_worker(kAuthors);
    EXPECT_TRUE(converges("authors", author, "t.name, t.id"));
    EXPECT_TRUE(eventually([] { return stack->ingress_worker_peers("authors") == 1; }));
    EXPECT_EQ(stack->worker_metric("revalidator_worker_resyncs_total{collection=\"articles\"}",
                                   kArticles),
              articles_resyncs)
        << "the authors worker's restart resynced articles";
}

}  // namespace
