// Promises 2 and 3 under failure: lost webhooks, a full queue, a dead worker or ingress, and
// Postgres or Memcached going away. Each test builds its own stack, since it breaks it.
#include <gtest/gtest.h>
#include <signal.h>

#include "stack.hpp"

using namespace revalidator::testing;
using namespace std::chrono_literals;

namespace {

void report(Stack& s) {
    if (::testing::Test::HasFailure()) std::cerr << s.diagnostics() << "\n";
}

std::string bump(Stack& s, const std::string& id) {
    s.sql("UPDATE public.articles SET version = version + 1 WHERE id = " + id);
    return s.webhook_for("UPDATE", id);
}

}  // namespace

// The anti-entropy pass is off in the tests of resyncs, so that a resync is what heals.
TEST(Resilience, PeriodicResyncHealsAWebhookThatWasNeverSent) {
    Stack s({.worker_args = {"--resync-interval-s", "1", "--verify-rate", "0"}});
    s.sql("UPDATE public.articles SET title = 'Silent change' WHERE id = 1");
    s.sql("DELETE FROM public.articles WHERE id = 2");
    EXPECT_TRUE(s.converges("1", 10s));
    EXPECT_TRUE(s.converges("2", 10s));
    EXPECT_FALSE(s.cache_get("/articles/2").has_value());
    report(s);
}

TEST(Resilience, StandbyTakesOverWhenTheActiveWorkerIsKilled) {
    Stack s({.workers = 2});
    ASSERT_EQ(s.active_worker(), 0);
    httplib::Client standby("127.0.0.1", s.worker_admin_port(1));
    auto r = standby.Get("/readyz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_NE(r->body.find("standby"), std::string::npos);

    // Events reach the active worker only.
    ASSERT_EQ(s.webhook(bump(s, "1"))->status, 202);
    ASSERT_TRUE(s.converges("1"));
    EXPECT_EQ(s.worker_metric("revalidator_worker_events_total{collection=\"articles\"}", 1), 0);

    auto killed = std::chrono::steady_clock::now();
    s.worker(0).stop(SIGKILL);
    s.sql(
        "UPDATE public.articles SET title = 'After failover' WHERE id = 3");  // its webhook is lost
    ASSERT_TRUE(eventually([&] { return s.active_worker() == 1; }, 15s));
    double takeover =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
    std::cout << "[ figures  ] standby active " << takeover
              << " s after kill -9 of the active worker\n";
    EXPECT_LT(takeover, 5.0);
    EXPECT_TRUE(s.converges("3")) << "the new active worker resyncs on taking over";
    ASSERT_EQ(s.webhook(bump(s, "4"))->status, 202);
    EXPECT_TRUE(s.converges("4"));
    report(s);
}

TEST(Resilience, SigtermedIngressDeliversEveryAckedEvent) {
    Stack s;
    std::vector<std::string> ids = s.sql_column("SELECT id FROM public.articles");
    double gaps_before =
        s.worker_metric("revalidator_worker_stream_gaps_total{collection=\"articles\"}");
    for (int i = 0; i < 200; ++i) ASSERT_EQ(s.webhook(bump(s, ids[i % ids.size()]))->status, 202);
    EXPECT_EQ(s.ingress().stop(SIGTERM), 0) << "clean exit";
    for (const auto& id : ids) EXPECT_TRUE(s.converges(id)) << id;
    EXPECT_NE(s.ingress().log_tail().find("\"clean\":true"), std::string::npos)
        << "END marker sent";

    // The restarted instance opens a new epoch; after a clean END that is not a gap.
    s.start_ingress();
    ASSERT_EQ(s.webhook(bump(s, ids[0]))->status, 202);
    EXPECT_TRUE(s.converges(ids[0]));
    EXPECT_EQ(s.worker_metric("revalidator_worker_stream_gaps_total{collection=\"articles\"}"),
              gaps_before);
    report(s);
}

TEST(Resilience, KilledIngressIsHealedByAResyncOnItsRestart) {
    Stack s({.worker_args = {"--verify-rate", "0"}});
    ASSERT_EQ(s.webhook(bump(s, "1"))->status, 202);
    ASSERT_TRUE(s.converges("1"));
    s.ingress().stop(SIGKILL);
    s.sql("UPDATE public.articles SET title = 'Queued when the ingress died' WHERE id = 2");
    double gaps_before =
        s.worker_metric("revalidator_worker_stream_gaps_total{collection=\"articles\"}");
    s.start_ingress();
    ASSERT_EQ(s.webhook(bump(s, "3"))->status, 202);
    EXPECT_TRUE(s.converges("3"));
    EXPECT_TRUE(s.converges("2")) << "a new epoch without END must trigger a resync";
    EXPECT_EQ(s.worker_metric("revalidator_worker_stream_gaps_total{collection=\"articles\"}"),
              gaps_before + 1);
    report(s);
}

TEST(Resilience, IngressKeepsAckingWhileTheWorkerIsAwayAndDeliversLater) {
    Stack s;
    s.worker().stop(SIGKILL);
    httplib::Client c("127.0.0.1", s.ingress_port());
    ASSERT_TRUE(eventually([&] { return s.ingress_worker_peers() == 0; }));
    // Still ready: the balancer keeps it, for these webhooks and for the reads.
    auto ready = c.Get("/readyz");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 200);
    for (const char* id : {"1", "2", "3"}) EXPECT_EQ(s.webhook(bump(s, id))->status, 202);
    s.start_worker();
    for (const char* id : {"1", "2", "3"}) EXPECT_TRUE(s.converges(id)) << id;
    EXPECT_TRUE(eventually([&] { return s.ingress_worker_peers() == 1; }));
    report(s);
}

TEST(Resilience, FullQueueAnswers503AndTheLossIsHealed) {
    Stack s({.ingress_args = {"--queue-capacity", "3"}});
    s.worker().stop(SIGKILL);
    // Until the ingress has seen the connection close, ZeroMQ still takes events for the dead
    // peer (they are lost, and healed as a gap): only then does the queue fill.
    ASSERT_TRUE(eventually([&] { return s.ingress_worker_peers() == 0; }));
    int refused = 0;
    for (int i = 0; i < 10; ++i) {
        auto r = s.webhook(bump(s, std::to_string(1 + i % 5)));
        ASSERT_TRUE(r);
        if (r->status == 503) {
            ++refused;
            EXPECT_EQ(r->get_header_value("Retry-After"), "1");
            EXPECT_NE(r->body.find("queue_full"), std::string::npos);
        } else {
            EXPECT_EQ(r->status, 202);
        }
    }
    EXPECT_GE(refused, 6);
    s.start_worker();
    for (const char* id : {"1", "2", "3", "4", "5"}) EXPECT_TRUE(s.converges(id)) << id;
    // The refused events took sequence numbers: the next heartbeat shows the worker the gap.
    EXPECT_TRUE(eventually([&] {
        return s.worker_metric("revalidator_worker_stream_gaps_total{collection=\"articles\"}") >=
               1;
    }));
    report(s);
}

TEST(Resilience, PostgresOutageIsRiddenOutAndCaughtUp) {
    Stack s;
    s.sql("UPDATE public.articles SET title = 'Before the outage' WHERE id = 1");
    std::string body = s.webhook_for("UPDATE", "1");
    s.postgres().stop();
    ASSERT_EQ(s.webhook(body)->status, 202) << "the ingress does not depend on Postgres";
    httplib::Client admin("127.0.0.1", s.worker_admin_port());
    EXPECT_TRUE(eventually([&] {
        auto r = admin.Get("/readyz");
        return r && r->status == 503;
    }));
    EXPECT_TRUE(s.worker().alive());
    s.postgres().start();
    EXPECT_TRUE(s.converges("1", 20s));
    EXPECT_TRUE(eventually(
        [&] {
            auto r = admin.Get("/readyz");
            return r && r->status == 200;
        },
        20s));
    report(s);
}

TEST(Resilience, MemcachedRestartIsDetectedAndRefilled) {
    Stack s;
    ASSERT_TRUE(s.list_converges());
    s.memcached().stop();
    s.memcached().start();
    EXPECT_FALSE(s.cache_get("/articles").has_value());
    for (const char* id : {"1", "2", "3", "4", "5"}) EXPECT_TRUE(s.converges(id, 15s)) << id;
    report(s);
}

TEST(Resilience, ValueTooLargeIsDeletedNotLeftStale) {
    Stack s;
    ASSERT_TRUE(s.converges("1"));
    // Over memcached's default 1 MiB item limit: the old value must go, not stay.
    s.sql("UPDATE public.articles SET body = repeat('x', 2 * 1024 * 1024) WHERE id = 1");
    // The real webhook would carry the 2 MiB record and exceed the ingress's body limit; the
    // worker only needs the key.
    ASSERT_EQ(s.webhook(Stack::webhook_body("UPDATE", {{"id", 1}}, {{"id", 1}}))->status, 202);
    EXPECT_TRUE(eventually([&] { return !s.cache_get("/articles/1").has_value(); }));
    EXPECT_TRUE(eventually([&] {
        return s.worker_metric(
                   "revalidator_worker_cache_write_errors_total{collection=\"articles\"}") >= 1;
    }));
    // The list is over the limit too and is stored in parts: readers reassemble it.
    nlohmann::json manifest;
    ASSERT_TRUE(eventually([&] {
        auto head = s.cache_get("/articles");
        if (!head || head->front() != '{') return false;
        manifest = nlohmann::json::parse(*head);
        return true;
    }));
    ASSERT_TRUE(manifest.value("chunked", false)) << manifest.dump();
    std::string list;
    for (const auto& key : manifest["parts"]) list += s.cache_get(key.get<std::string>()).value();
    EXPECT_EQ(list, s.expected_list());
    // Once the row is small again, the key comes back.
    s.sql("UPDATE public.articles SET body = 'small again' WHERE id = 1");
    ASSERT_EQ(s.webhook(s.webhook_for("UPDATE", "1"))->status, 202);
    EXPECT_TRUE(s.converges("1"));
    report(s);
}
