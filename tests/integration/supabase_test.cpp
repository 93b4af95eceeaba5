// What docs/supabase.md promises an operator of a hosted Supabase database, against the real
// binaries and a real Postgres: a worker whose role row-level security filters refuses to start
// (or, with --allow-rls, warns), and a TRUNCATE, told by the statement trigger of
// schema/truncate_webhook.sql, empties the table's keys and list.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>
#include <sstream>

#include "stack.hpp"

using namespace revalidator::testing;
using namespace std::chrono_literals;

namespace {

std::string role_url(Stack& s, const std::string& role) {
    return "postgresql://" + role + "@127.0.0.1:" + std::to_string(s.postgres().port()) +
           "/postgres";
}

// A worker beside the stack's own, connected as `role`: it waits as a standby, but it checks
// the table's row-level security at start as any worker does.
std::vector<std::string> worker_as(Stack& s, const std::string& role,
                                   std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{WORKER_BIN,
                                  "--postgres-url",
                                  role_url(s, role),
                                  "--memcached",
                                  s.memcached_servers(),
                                  "--bind",
                                  "tcp://127.0.0.1:" + std::to_string(free_port()),
                                  "--admin-port",
                                  "0",
                                  "--verify-rate",
                                  "0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// Starts a worker that must start: "worker started" in its log within the deadline; then stops it.
// Returns its log.
std::string starts(const std::vector<std::string>& argv, const std::string& log) {
    Process worker(argv, log);
    EXPECT_TRUE(eventually([&] { return contains(read_file(log), "worker started"); }, 30s))
        << read_file(log);
    ::kill(worker.pid(), SIGTERM);
    EXPECT_EQ(worker.wait_for(30s), 0) << read_file(log);
    return read_file(log);
}

}  // namespace

TEST(RowLevelSecurity, AWorkerWhoseRoleIsFilteredRefusesToStartUnlessAllowed) {
    Stack s({.setup_sql = {
                 "CREATE ROLE reader LOGIN",
                 "CREATE ROLE bypasser LOGIN BYPASSRLS",
                 "GRANT SELECT ON public.articles TO reader, bypasser",
                 "ALTER TABLE public.articles ENABLE ROW LEVEL SECURITY",
                 "CREATE POLICY only_the_first ON public.articles FOR SELECT USING (id = 1)",
             }});
    ASSERT_EQ(s.sql("SET LOCAL ROLE reader; SELECT count(*) FROM public.articles"), "1")
        << "the policy filters what reader sees";

    const std::string refused = s.dir() + "/refused.log";
    EXPECT_EQ(run(worker_as(s, "reader"), refused), 64) << read_file(refused);
    const std::string out = read_file(refused);
    for (const char* part :
         {"row-level security", "public.articles", "\\\"reader\\\"", "BYPASSRLS", "--allow-rls"}) {
        EXPECT_TRUE(contains(out, part)) << part << " in:\n" << out;
    }
    EXPECT_FALSE(contains(out, "worker started")) << out;

    const std::string warned =
        starts(worker_as(s, "reader", {"--allow-rls"}), s.dir() + "/allowed.log");
    EXPECT_TRUE(contains(warned, "row-level security filters the rows this worker reads"))
        << warned;

    const std::string bypassing = starts(worker_as(s, "bypasser"), s.dir() + "/bypasser.log");
    EXPECT_FALSE(contains(bypassing, "row-level security")) << bypassing;

    s.sql("ALTER TABLE public.articles DISABLE ROW LEVEL SECURITY");
    const std::string off = starts(worker_as(s, "reader"), s.dir() + "/off.log");
    EXPECT_FALSE(contains(off, "row-level security")) << off;
}

// pg_net is not in the test's Postgres: a stand-in for net.http_post keeps each request, and the
// test sends it to the ingress as pg_net would (adding Content-Type, which pg_net adds itself).
TEST(Truncate, TheStatementTriggersWebhookEmptiesTheCache) {
    // No repair pass: only the TRUNCATE webhook may empty the cache.
    Stack s({.worker_args = {"--verify-rate", "0"}});
    ASSERT_TRUE(s.list_converges(20s)) << s.diagnostics();
    ASSERT_TRUE(s.cache_get("/articles/1").has_value());

    s.sql("CREATE SCHEMA net");
    s.sql("CREATE TABLE net.sent (url text, body jsonb, headers jsonb)");
    s.sql(
        "CREATE FUNCTION net.http_post(url text, body jsonb, params jsonb DEFAULT '{}', "
        "headers jsonb DEFAULT '{}', timeout_milliseconds int DEFAULT 5000) RETURNS bigint "
        "LANGUAGE sql AS $$ INSERT INTO net.sent VALUES (url, body, headers); SELECT 1::bigint $$");
    std::ifstream file(REVALIDATOR_TRUNCATE_SQL);
    ASSERT_TRUE(file) << REVALIDATOR_TRUNCATE_SQL;
    std::ostringstream text;
    text << file.rdbuf();
    s.sql(text.str());

    s.sql("TRUNCATE public.articles");
    const auto url = s.sql("SELECT url FROM net.sent");
    ASSERT_TRUE(url.has_value()) << "the trigger sent nothing";
    EXPECT_EQ(*url, "https://ingress.example.com/revalidate");
    const auto headers = nlohmann::json::parse(*s.sql("SELECT headers::text FROM net.sent"));
    EXPECT_EQ(headers, (nlohmann::json{{"Authorization", "Bearer <secret>"}}));
    const auto body = nlohmann::json::parse(*s.sql("SELECT body::text FROM net.sent"));
    EXPECT_EQ(body, (nlohmann::json{{"type", "TRUNCATE"},
                                    {"table", "articles"},
                                    {"schema", "public"},
                                    {"record", nullptr},
                                    {"old_record", nullptr}}));
    EXPECT_TRUE(s.cache_get("/articles/1").has_value()) << "nothing else emptied the cache";

    const double resyncs =
        s.worker_metric("revalidator_worker_resyncs_total{collection=\"articles\"}");
    auto sent = s.webhook(body.dump());
    ASSERT_TRUE(sent) << "no answer";
    EXPECT_EQ(sent->status, 202) << sent->body;

    EXPECT_TRUE(eventually(
        [&] {
            return s.cache_list() == "[]" &&
                   s.cache_get_many(
                        {"/articles/1", "/articles/2", "/articles/3", "/articles/4", "/articles/5"})
                       .empty();
        },
        20s))
        << s.diagnostics();
    EXPECT_EQ(s.worker_metric("revalidator_worker_resyncs_total{collection=\"articles\"}"),
              resyncs + 1);
    EXPECT_EQ(s.worker_metric("revalidator_worker_stream_gaps_total{collection=\"articles\"}"), 0)
        << "no loss, no gap";
}
