// The anti-entropy pass on the real binaries (docs/operations.md, "Repairing itself"): with the
// periodic resync off, changes whose webhooks were never sent and a cache written by someone else
// are healed by the worker alone, and a key no row has is deleted. Each test prints how long the
// cache took to become right; the bound asserted is generous, the figures are bench/'s.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <map>

#include "stack.hpp"

using namespace revalidator::testing;
using namespace std::chrono_literals;

namespace {

// --verify-slice 100 at 2,000 rows a second: a pass over the few hundred rows here takes a
// fraction of a second, and no resync ever runs.
StackOptions repairing() {
    return {.worker_args = {"--resync-interval-s", "0", "--verify-rate", "2000", "--verify-slice",
                            "100"},
            .setup_sql = {"INSERT INTO public.articles (title) SELECT 'Row ' || g FROM "
                          "generate_series(1, 300) g"}};
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Every row's key and the list equal Postgres, and no key is left for `gone`.
bool cache_is_true(Stack& s, const std::vector<std::string>& gone = {}) {
    for (const auto& id : s.sql_column("SELECT id FROM public.articles ORDER BY id")) {
        if (s.cache_get("/articles/" + id) != s.expected_row(id)) return false;
    }
    for (const auto& id : gone) {
        if (s.cache_get("/articles/" + id)) return false;
    }
    return s.cache_list() == s.expected_list();
}

double divergences(Stack& s, const std::string& kind) {
    return s.worker_metric("revalidator_worker_divergences_total{kind=\"" + kind + "\"}");
}

}  // namespace

TEST(Repair, ChangesWhoseWebhooksWereNeverSentHealWithoutAResync) {
    Stack s(repairing());
    ASSERT_TRUE(eventually([&] { return cache_is_true(s); }, 30s)) << s.diagnostics();

    const auto start = std::chrono::steady_clock::now();
    const std::string inserted =
        *s.sql("INSERT INTO public.articles (title) VALUES ('Never announced') RETURNING id");
    s.sql("UPDATE public.articles SET title = 'Quietly changed' WHERE id IN (5, 150, 300)");
    s.sql("DELETE FROM public.articles WHERE id IN (7, 299)");
    EXPECT_TRUE(eventually([&] { return cache_is_true(s, {"7", "299"}); }, 15s)) << s.diagnostics();
    std::cout << "[ figures  ] 1 insert, 3 updates, 2 deletes, no webhooks: cache true after "
              << seconds_since(start) << " s\n";
    EXPECT_EQ(s.worker_metric("revalidator_worker_resyncs_total"), 1) << "only the first";
    EXPECT_GE(divergences(s, "missing"), 1);  // the inserted row
    EXPECT_GE(divergences(s, "wrong"), 3);
    EXPECT_GE(divergences(s, "vanished"), 2);
    EXPECT_EQ(s.worker_metric("revalidator_worker_verify_failures_total"), 0);
    EXPECT_LT(s.worker_metric("revalidator_worker_verify_oldest_seconds"), 10);
}

TEST(Repair, WhatABuggyWriterOrABadRestoreLeftIsRewrittenAndStrayKeysDeleted) {
    Stack s(repairing());
    ASSERT_TRUE(eventually([&] { return cache_is_true(s); }, 30s)) << s.diagnostics();
    const double passes = s.worker_metric("revalidator_worker_verify_passes_total");

    const auto start = std::chrono::steady_clock::now();
    s.cache_set("/articles/10", "not even JSON");
    s.cache_set("/articles/11", R"({"id": 11, "title": "restored from last week"})");
    s.cache_delete("/articles/12");
    s.cache_set("/articles/99999", R"({"id": 99999, "title": "no such row"})");
    s.cache_set("/articles/0013", "another spelling of row 13");
    // Another collection's, whose prefix nests under this one's: never a stray.
    const std::map<std::string, std::string> nested = {
        {"/articles/featured",
         R"({"bytes":12,"chunked":true,"parts":["/articles/featured:part:1:0"]})"},
        {"/articles/featured:part:1:0", R"([{"id": 1}])"},
        {"/articles/featured/1", R"({"id": 1})"}};
    for (const auto& [key, value] : nested) s.cache_set(key, value);
    EXPECT_TRUE(eventually(
        [&] { return cache_is_true(s, {"99999"}) && !s.cache_get("/articles/0013").has_value(); },
        15s))
        << s.diagnostics();
    std::cout << "[ figures  ] 2 wrong values, 1 missing key, 2 stray keys: cache true after "
              << seconds_since(start) << " s\n";
    EXPECT_EQ(divergences(s, "wrong"), 2);
    EXPECT_EQ(divergences(s, "missing"), 1);
    EXPECT_EQ(divergences(s, "stray_key"), 2);
    EXPECT_EQ(s.worker_metric("revalidator_worker_resyncs_total"), 1) << "only the first";

    // A wrong list alone: its rows are right, so only the list's own check can find it.
    s.cache_set("/articles", "[]");
    EXPECT_TRUE(eventually([&] { return s.cache_list() == s.expected_list(); }, 15s));
    EXPECT_EQ(divergences(s, "list"), 1);

    // A pass over a true cache finds nothing more.
    const double found = divergences(s, "wrong") + divergences(s, "missing");
    ASSERT_TRUE(eventually(
        [&] { return s.worker_metric("revalidator_worker_verify_passes_total") >= passes + 3; },
        15s));
    EXPECT_EQ(divergences(s, "wrong") + divergences(s, "missing"), found);
    for (const auto& [key, value] : nested) EXPECT_EQ(s.cache_get(key), value) << key;
    EXPECT_EQ(divergences(s, "stray_key"), 2);
}

// A frozen Memcached (SIGSTOP, not dead) holds the pass for its timeouts only: changes keep
// flowing once it is back, and the pass goes on.
TEST(Repair, AFrozenCacheServerOnlyPausesThePass) {
    Stack s(repairing());
    ASSERT_TRUE(eventually([&] { return cache_is_true(s); }, 30s)) << s.diagnostics();
    {
        Frozen frozen(s.memcached().process());
        s.sql("UPDATE public.articles SET title = 'Changed while the cache slept' WHERE id = 20");
        ASSERT_TRUE(eventually(
            [&] { return s.worker_metric("revalidator_worker_verify_failures_total") >= 1; }, 15s))
            << s.diagnostics();
    }
    EXPECT_TRUE(eventually([&] { return cache_is_true(s); }, 20s)) << s.diagnostics();
    EXPECT_TRUE(s.worker().alive());
}
