// The anti-entropy pass on the real binaries (docs/operations.md, "Repairing itself"): with the
// periodic resync off, changes whose webhooks were never sent and a cache written by someone else
// are healed by the worker alone, and a key no row has is deleted. Each test prints how long the
// cache took to become right; the bound asserted is generous, the figures are bench/'s.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

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
    return s.worker_metric("revalidator_worker_divergences_total{collection=\"articles\",kind=\"" +
                           kind + "\"}");
}

// A client of the cache that starts `lru_crawler metadump all` and stops reading: once the
// socket buffers are full, the server's one crawler waits for it, as for an operator's
// `memcached-tool dump | less` left open.
class StalledCrawl {
  public:
    explicit StalledCrawl(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        const int small = 4096;
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            throw std::runtime_error("cannot connect to memcached");
        }
    }
    ~StalledCrawl() { ::close(fd_); }
    StalledCrawl(const StalledCrawl&) = delete;
    StalledCrawl& operator=(const StalledCrawl&) = delete;
    void send(const std::string& bytes) {
        for (std::size_t sent = 0; sent < bytes.size();) {
            const auto n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) throw std::runtime_error("cannot write to memcached");
            sent += static_cast<std::size_t>(n);
        }
    }

    // Whether the answer starts with a key (the crawl is this client's) rather than BUSY (the
    // worker's listing holds the crawler); waits 2 s at most.
    bool crawling() {
        pollfd p{fd_, POLLIN, 0};
        char head[4];
        return ::poll(&p, 1, 2000) == 1 && ::recv(fd_, head, sizeof head, MSG_WAITALL) == 4 &&
               std::string_view(head, 4) == "key=";
    }

  private:
    int fd_;
};

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
    EXPECT_EQ(s.worker_metric("revalidator_worker_resyncs_total{collection=\"articles\"}"), 1)
        << "only the first";
    EXPECT_GE(divergences(s, "missing"), 1);  // the inserted row
    EXPECT_GE(divergences(s, "wrong"), 3);
    EXPECT_GE(divergences(s, "vanished"), 2);
    EXPECT_EQ(s.worker_metric("revalidator_worker_verify_failures_total{collection=\"articles\"}"),
              0);
    const double verified = s.worker_metric(
        "revalidator_worker_verify_oldest_timestamp_seconds{collection=\"articles\"}");
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    EXPECT_LT(now - verified, 10) << "a recent pass, given as the wall time it verified";
    EXPECT_GT(now - verified, 0);
}

TEST(Repair, WhatABuggyWriterOrABadRestoreLeftIsRewrittenAndStrayKeysDeleted) {
    Stack s(repairing());
    ASSERT_TRUE(eventually([&] { return cache_is_true(s); }, 30s)) << s.diagnostics();
    const double passes =
        s.worker_metric("revalidator_worker_verify_passes_total{collection=\"articles\"}");

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
    EXPECT_EQ(s.worker_metric("revalidator_worker_resyncs_total{collection=\"articles\"}"), 1)
        << "only the first";

    // A wrong list alone: its rows are right, so only the list's own check can find it.
    s.cache_set("/articles", "[]");
    EXPECT_TRUE(eventually([&] { return s.cache_list() == s.expected_list(); }, 15s));
    EXPECT_EQ(divergences(s, "list"), 1);

    // A pass over a true cache finds nothing more.
    const double found = divergences(s, "wrong") + divergences(s, "missing");
    ASSERT_TRUE(eventually(
        [&] {
            return s.worker_metric(
                       "revalidator_worker_verify_passes_total{collection=\"articles\"}") >=
                   passes + 3;
        },
        15s));
    EXPECT_EQ(divergences(s, "wrong") + divergences(s, "missing"), found);
    for (const auto& [key, value] : nested) EXPECT_EQ(s.cache_get(key), value) << key;
    EXPECT_EQ(divergences(s, "stray_key"), 2);
}

// The service level on real Memcached: the pass counts every key it compares, and a key
// corrupted behind the worker's back counts as wrong once, is healed, and its age is observed.
TEST(Repair, AKeyCorruptedInTheCacheCountsAsWrongAmongTheKeysCompared) {
    Stack s(repairing());
    ASSERT_TRUE(eventually([&] { return cache_is_true(s); }, 30s)) << s.diagnostics();
    const double passes =
        s.worker_metric("revalidator_worker_verify_passes_total{collection=\"articles\"}");
    ASSERT_TRUE(eventually(
        [&] {
            return s.worker_metric(
                       "revalidator_worker_verify_passes_total{collection=\"articles\"}") >=
                   passes + 1;
        },
        15s));
    const double compared =
        s.worker_metric("revalidator_worker_verify_keys_compared_total{collection=\"articles\"}");
    EXPECT_GE(compared, 300) << "a whole pass compares every row's key";
    EXPECT_EQ(
        s.worker_metric("revalidator_worker_verify_keys_wrong_total{collection=\"articles\"}"), 0);

    s.cache_set("/articles/42", R"({"id": 42, "title": "corrupted"})");
    EXPECT_TRUE(eventually(
        [&] {
            return s.worker_metric(
                       "revalidator_worker_verify_wrong_age_seconds_count{collection="
                       "\"articles\"}") >= 1 &&
                   cache_is_true(s);
        },
        15s))
        << s.diagnostics();
    EXPECT_EQ(
        s.worker_metric("revalidator_worker_verify_keys_wrong_total{collection=\"articles\"}"), 1);
    EXPECT_GT(
        s.worker_metric("revalidator_worker_verify_keys_compared_total{collection=\"articles\"}"),
        compared);
    EXPECT_EQ(s.worker_metric(
                  "revalidator_worker_verify_wrong_age_seconds_count{collection=\"articles\"}"),
              1);
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
            [&] {
                return s.worker_metric(
                           "revalidator_worker_verify_failures_total{collection=\"articles\"}") >=
                       1;
            },
            15s))
            << s.diagnostics();
    }
    EXPECT_TRUE(eventually([&] { return cache_is_true(s); }, 20s)) << s.diagnostics();
    EXPECT_TRUE(s.worker().alive());
}

// Another client's crawl holds Memcached's one crawler: the pass's listing waits for it, counts
// it, and neither calls it an outage nor deletes anything for it; once the crawl ends, listing
// (and deleting stray keys) resumes (docs/operations.md, "Memcached's one crawler").
TEST(Repair, AnotherClientsCrawlIsWaitedForNotTakenForAnOutage) {
    Stack s(repairing());
    ASSERT_TRUE(eventually([&] { return cache_is_true(s); }, 30s)) << s.diagnostics();
    const auto busy = [&] {
        return s.worker_metric(
            "revalidator_worker_cache_crawler_busy_total{collection=\"articles\"}");
    };
    {
        // Enough keys that the dump outgrows every socket buffer between the server and us.
        std::string fill;
        for (int i = 0; i < 200'000; ++i) {
            fill += "set /filler/" + std::to_string(i) + " 0 0 1 noreply\r\nx\r\n";
        }
        StalledCrawl filler(s.memcached().port());
        filler.send(fill);
        ASSERT_TRUE(eventually([&] { return s.cache_get("/filler/199999").has_value(); }));
    }
    std::optional<StalledCrawl> other;
    ASSERT_TRUE(eventually([&] {
        other.emplace(s.memcached().port());
        other->send("lru_crawler metadump all\r\n");
        return other->crawling();
    })) << "the worker's listings never left the crawler to another client";
    ASSERT_TRUE(eventually([&] { return busy() >= 2; }, 15s)) << s.diagnostics();
    EXPECT_EQ(s.worker(0).log_tail(1'000'000).find("cannot list the cache's keys"),
              std::string::npos);
    EXPECT_EQ(s.worker_metric("revalidator_worker_verify_failures_total{collection=\"articles\"}"),
              0);

    s.cache_set("/articles/0042", "another spelling of row 42");
    other.reset();
    EXPECT_TRUE(eventually([&] { return !s.cache_get("/articles/0042").has_value(); }, 15s))
        << "listing did not resume once the other crawl ended\n"
        << s.diagnostics();
}
