// Several Memcached servers (docs/cache-layout.md, "Several servers"), on the real binaries. The
// test's own cache reads go through twemproxy configured as the docs tell readers (ketama, md5,
// no ejection), so finding every key there proves that the worker spreads keys as other clients
// compute them. A server killed mid-run is never read stale, and once it is back, empty, it is
// refilled. The ingress reads the cluster with the same distribution.
#include <libmemcached/memcached.h>

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "stack.hpp"

using namespace revalidator::testing;
using namespace std::chrono_literals;

namespace {

// 300 rows whose list (about 90 KB) is split into parts of at most 4 KB.
StackOptions three_servers() {
    return {.worker_args = {"--max-item-bytes", "4096"},
            .memcached_servers = 3,
            .read_through_twemproxy = true,
            .setup_sql = {"INSERT INTO public.articles (title, body) SELECT 'Article ' || g, "
                          "repeat('x', 200) FROM generate_series(6, 300) g"}};
}

// Items on one server, asked of it alone.
long items_on(MemcachedServer& server) {
    memcached_st* mc = memcached_create(nullptr);
    memcached_server_add(mc, "127.0.0.1", static_cast<in_port_t>(server.port()));
    memcached_return_t rc{};
    memcached_stat_st* stats = memcached_stat(mc, nullptr, &rc);
    const long items =
        stats && rc == MEMCACHED_SUCCESS ? static_cast<long>(stats[0].curr_items) : -1;
    if (stats) memcached_stat_free(mc, stats);
    memcached_free(mc);
    return items;
}

httplib::Result read(Stack& s, const std::string& path) {
    httplib::Client c("127.0.0.1", s.ingress_port());
    c.set_read_timeout(10, 0);
    return c.Get(path.c_str());
}

bool all_converge(Stack& s, const std::vector<std::string>& ids,
                  std::chrono::milliseconds timeout) {
    for (const auto& id : ids) {
        if (!s.converges(id, timeout)) {
            ADD_FAILURE() << "row " << id << " did not converge";
            return false;
        }
    }
    return true;
}

}  // namespace

TEST(Cluster, EveryKeyTheWorkerWritesIsFoundThroughTwemproxy) {
    Stack s(three_servers());
    const auto ids = s.sql_column("SELECT id FROM public.articles ORDER BY id");
    ASSERT_EQ(ids.size(), 300u);
    EXPECT_TRUE(all_converge(s, ids, 15s));
    ASSERT_TRUE(s.list_converges(15s));
    auto head = s.cache_get("/articles");
    ASSERT_TRUE(head);
    EXPECT_EQ(head->front(), '{') << "the list is chunked, its parts spread over the servers";
    for (int i = 0; i < 3; ++i) EXPECT_GT(items_on(s.memcached(i)), 50) << "server " << i;

    // A change after the start takes the same way.
    s.sql("UPDATE public.articles SET title = 'Changed' WHERE id = 7");
    ASSERT_EQ(s.webhook(s.webhook_for("UPDATE", "7"))->status, 202);
    EXPECT_TRUE(s.converges("7"));

    // The ingress reads the servers directly, with the worker's distribution.
    for (const auto& id : ids) {
        auto r = read(s, "/articles/" + id);
        ASSERT_TRUE(r) << id;
        ASSERT_EQ(r->status, 200) << id << ": " << r->body;
        EXPECT_EQ(r->body, s.expected_row(id).value_or("")) << id;
    }
    auto list = read(s, "/articles");
    ASSERT_TRUE(list);
    EXPECT_EQ(list->status, 200);
    EXPECT_EQ(list->body, s.expected_list());
}

TEST(Cluster, AServerKilledIsNeverReadStaleAndIsRefilledWhenBackEmpty) {
    Stack s(three_servers());
    const auto ids = s.sql_column("SELECT id FROM public.articles ORDER BY id");
    ASSERT_TRUE(all_converge(s, ids, 15s));
    std::vector<std::string> before;
    for (const auto& id : ids) before.push_back(s.cache_get("/articles/" + id).value_or(""));

    s.memcached(1).stop();
    s.sql("UPDATE public.articles SET title = title || ' (changed)' WHERE id <= 60");
    for (int id = 1; id <= 60; ++id) {
        ASSERT_EQ(s.webhook(s.webhook_for("UPDATE", std::to_string(id)))->status, 202);
    }
    // The live servers take their writes; the dead one's fail, are owed, and are retried. Its
    // keys do not move to another server, so no reader finds an older copy anywhere.
    EXPECT_TRUE(eventually(
        [&] {
            for (std::size_t i = 0; i < 60; ++i) {
                auto now = s.cache_get("/articles/" + ids[i]);
                if (now && *now != s.expected_row(ids[i])) return false;
            }
            return true;
        },
        15s))
        << "every row readable through twemproxy is the changed one";
    std::size_t unreadable = 0;
    for (std::size_t i = 0; i < 60; ++i) {
        auto now = s.cache_get("/articles/" + ids[i]);
        EXPECT_NE(now.value_or(""), before[i]) << "row " << ids[i] << " read stale";
        unreadable += now ? 0 : 1;
    }
    EXPECT_GT(unreadable, 0u) << "some of the changed rows live on the dead server";
    EXPECT_TRUE(eventually([&] {
        return s.worker_metric(
                   "revalidator_worker_cache_write_errors_total{collection=\"articles\"}") >= 1;
    }));
    for (std::size_t i = 0; i < 60; ++i) {
        auto r = read(s, "/articles/" + ids[i]);
        ASSERT_TRUE(r);
        if (r->status == 200) {
            EXPECT_EQ(r->body, s.expected_row(ids[i]).value_or("")) << "ingress read stale";
        } else {
            EXPECT_EQ(r->status, 503) << r->body;
        }
    }

    // The list, chunked over the servers: the current one, or a 503 that says why; never torn or
    // stale, and an outage is not taken for a rewrite.
    auto list = read(s, "/articles");
    ASSERT_TRUE(list);
    if (list->status == 200) {
        EXPECT_EQ(list->body, s.expected_list());
    } else {
        EXPECT_EQ(list->status, 503);
        const auto error = nlohmann::json::parse(list->body, nullptr, false).value("error", "");
        EXPECT_TRUE(error == "cache_unavailable" || error == "not_cached") << list->body;
    }

    s.memcached(1).start();
    EXPECT_TRUE(all_converge(s, ids, 20s)) << "the server back empty is refilled";
    EXPECT_TRUE(s.list_converges(15s));
    EXPECT_GT(items_on(s.memcached(1)), 50);
}
