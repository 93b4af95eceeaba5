// A table configured without a list (--list=false, `list = false` in a [[collection]],
// docs/configuration.md) on the real binaries: the worker writes row keys only, and a resync
// deletes the list an earlier configuration left; the ingress answers GET {prefix} with 404
// no_list at once, never a 503 wait; webhooks still reach the rows, and the anti-entropy pass
// still repairs row keys a webhook never announced.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <string>
#include <vector>

#include "stack.hpp"

using namespace revalidator::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

StackOptions without_a_list() {
    return {.worker_args = {"--list=false", "--resync-interval-s", "0", "--verify-rate", "2000",
                            "--verify-slice", "100"},
            .ingress_args = {"--list=false"},
            .setup_sql = {"INSERT INTO public.articles (title) SELECT 'Row ' || g FROM "
                          "generate_series(1, 300) g"}};
}

bool rows_are_true(Stack& s, const std::vector<std::string>& gone = {}) {
    for (const auto& id : s.sql_column("SELECT id FROM public.articles ORDER BY id")) {
        if (s.cache_get("/articles/" + id) != s.expected_row(id)) return false;
    }
    for (const auto& id : gone) {
        if (s.cache_get("/articles/" + id)) return false;
    }
    return true;
}

TEST(NoList, RowKeysOnlyTheListAnswered404AndRowsStillRepaired) {
    Stack s(without_a_list());
    ASSERT_TRUE(eventually([&] { return rows_are_true(s); }, 30s)) << s.diagnostics();
    EXPECT_FALSE(s.cache_get("/articles").has_value());
    EXPECT_FALSE(s.cache_get("/articles:version").has_value());

    httplib::Client c("127.0.0.1", s.ingress_port());
    const auto start = std::chrono::steady_clock::now();
    auto list = c.Get("/articles");
    ASSERT_TRUE(list);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s) << "answered at once, not waited for";
    EXPECT_EQ(list->status, 404);
    EXPECT_FALSE(list->has_header("Retry-After"));
    EXPECT_EQ(json::parse(list->body).at("error"), "no_list") << list->body;
    auto row = c.Get("/articles/1");
    ASSERT_TRUE(row);
    EXPECT_EQ(row->status, 200);
    EXPECT_EQ(row->body, s.expected_row("1"));

    // A webhook reaches its row.
    s.sql("UPDATE public.articles SET title = 'Announced' WHERE id = 2");
    ASSERT_EQ(s.webhook(s.webhook_for("UPDATE", "2"))->status, 202);
    EXPECT_TRUE(eventually([&] { return s.cache_get("/articles/2") == s.expected_row("2"); }))
        << s.diagnostics();

    // Changes no webhook announced, and a value someone else wrote: the pass heals the keys.
    s.sql("UPDATE public.articles SET title = 'Quietly changed' WHERE id IN (5, 150)");
    s.sql("DELETE FROM public.articles WHERE id = 7");
    s.cache_set("/articles/10", "not even JSON");
    EXPECT_TRUE(eventually([&] { return rows_are_true(s, {"7"}); }, 15s)) << s.diagnostics();
    EXPECT_EQ(s.worker_metric("revalidator_worker_resyncs_total{collection=\"articles\"}"), 1)
        << "only the first";
    EXPECT_EQ(s.worker_metric(
                  R"(revalidator_worker_divergences_total{collection="articles",kind="list"})"),
              0);
    EXPECT_FALSE(s.cache_get("/articles").has_value());
}

TEST(NoList, AResyncDeletesTheListAnEarlierConfigurationLeft) {
    Stack s(without_a_list());
    ASSERT_TRUE(eventually([&] { return rows_are_true(s); }, 30s)) << s.diagnostics();
    // What a worker configured with a list wrote: a chunked list behind its head, and its version.
    s.cache_set("/articles:part:1:0", "[{\"id\": 1}");
    s.cache_set("/articles:part:1:1", "]");
    s.cache_set(
        "/articles",
        R"({"bytes":11,"chunked":true,"parts":["/articles:part:1:0","/articles:part:1:1"]})");
    s.cache_set("/articles:version", "0123456789abcdef0123456789abcdef");

    // A takeover resyncs.
    s.worker().stop(SIGTERM);
    s.start_worker();
    EXPECT_TRUE(eventually([&] { return !s.cache_get("/articles").has_value(); }, 30s))
        << s.diagnostics();
    for (const char* key : {"/articles:version", "/articles:part:1:0", "/articles:part:1:1"}) {
        EXPECT_FALSE(s.cache_get(key).has_value()) << key;
    }
    EXPECT_TRUE(rows_are_true(s));
}

}  // namespace
