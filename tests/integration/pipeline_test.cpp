// The pipeline end to end: webhooks over real HTTP into the real ingress, over ZeroMQ into the
// real worker, from a real Postgres into a real Memcached.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "stack.hpp"

using namespace revalidator::testing;
using nlohmann::json;

struct PipelineStack {
    // No anti-entropy pass: the admin resync must be what removes a vanished row's key.
    static StackOptions get() {
        return {.worker_args = {"--admin-secret", "admin-secret", "--verify-rate", "0"}};
    }
};
class Pipeline : public SharedStack<PipelineStack> {};

TEST_F(Pipeline, StartupResyncFillsTheCache) {
    EXPECT_TRUE(stack->list_converges());
    for (const auto& id : stack->sql_column("SELECT id FROM public.articles")) {
        EXPECT_EQ(stack->cache_get("/articles/" + id), stack->expected_row(id)) << id;
    }
}

TEST_F(Pipeline, InsertWritesRowAndList) {
    std::string id = *stack->sql(
        "INSERT INTO public.articles (title, body) VALUES ('Fresh', 'new') RETURNING id");
    auto res = stack->webhook(stack->webhook_for("INSERT", id));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 202);
    EXPECT_EQ(json::parse(res->body), json({{"received", true}}));
    ASSERT_TRUE(stack->converges(id)) << stack->cache_get("/articles/" + id).value_or("(absent)");
    EXPECT_NE(stack->cache_get("/articles/" + id)->find("\"title\": \"Fresh\""), std::string::npos);
}

TEST_F(Pipeline, UpdateRewritesRowAndList) {
    stack->sql("UPDATE public.articles SET title = 'Updated', version = version + 1 WHERE id = 2");
    auto res = stack->webhook(stack->webhook_for("UPDATE", "2"));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 202);
    ASSERT_TRUE(stack->converges("2"));
    EXPECT_NE(stack->cache_get("/articles/2")->find("Updated"), std::string::npos);
}

TEST_F(Pipeline, DeleteRemovesRowKeyAndListEntry) {
    std::string body = stack->webhook_for("DELETE", "3");
    stack->sql("DELETE FROM public.articles WHERE id = 3");
    auto res = stack->webhook(body);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 202);
    ASSERT_TRUE(stack->converges("3"));
    EXPECT_FALSE(stack->cache_get("/articles/3").has_value());
}

TEST_F(Pipeline, PrimaryKeyChangeMovesTheKey) {
    std::string id =
        *stack->sql("INSERT INTO public.articles (title) VALUES ('Mover') RETURNING id");
    ASSERT_EQ(stack->webhook(stack->webhook_for("INSERT", id))->status, 202);
    ASSERT_TRUE(stack->converges(id));
    std::string old_row = *stack->expected_row(id);
    std::string new_id = std::to_string(std::stoll(id) + 100000);
    stack->sql("UPDATE public.articles SET id = " + new_id + " WHERE id = " + id);
    auto body = Stack::webhook_body("UPDATE", json::parse(*stack->expected_row(new_id)),
                                    json::parse(old_row));
    ASSERT_EQ(stack->webhook(body)->status, 202);
    EXPECT_TRUE(stack->converges(new_id));
    EXPECT_TRUE(stack->converges(id));
    EXPECT_FALSE(stack->cache_get("/articles/" + id).has_value());
}

TEST_F(Pipeline, DuplicateAndOutOfOrderWebhooksAreHarmless) {
    stack->sql("UPDATE public.articles SET title = 'Final', version = version + 1 WHERE id = 4");
    std::string stale = Stack::webhook_body("UPDATE", {{"id", 4}, {"title", "Older"}}, {{"id", 4}});
    ASSERT_EQ(stack->webhook(stack->webhook_for("UPDATE", "4"))->status, 202);
    ASSERT_EQ(stack->webhook(stale)->status, 202);
    ASSERT_EQ(stack->webhook(stale)->status, 202);
    ASSERT_TRUE(stack->converges("4"));
    EXPECT_NE(stack->cache_get("/articles/4")->find("Final"), std::string::npos);
}

// How many batches a burst makes depends on how fast the sender is next to the worker, so the
// worker is frozen while the burst is acked: all 1000 events are then waiting when it resumes,
// whatever the machine's speed. The figure under free-running load is bench/'s to report.
TEST_F(Pipeline, BurstCoalescesIntoFewListRebuilds) {
    stack->sql(
        "INSERT INTO public.articles (title) SELECT 'Burst ' || g FROM generate_series(1, 200) g");
    auto ids = stack->sql_column("SELECT id FROM public.articles WHERE title LIKE 'Burst %'");
    for (const auto& id : ids)
        ASSERT_EQ(stack->webhook(stack->webhook_for("INSERT", id))->status, 202);
    ASSERT_TRUE(stack->list_converges());  // measure from a settled state
    double rebuilds_before =
        stack->worker_metric("revalidator_worker_list_rebuilds_total{collection=\"articles\"}");
    double batches_before =
        stack->worker_metric("revalidator_worker_batches_total{collection=\"articles\"}");
    stack->sql("UPDATE public.articles SET version = version + 1 WHERE title LIKE 'Burst %'");

    std::vector<std::string> bodies;
    for (int i = 0; i < 1000; ++i)
        bodies.push_back(stack->webhook_for("UPDATE", ids[i % ids.size()]));
    std::atomic<int> accepted{0}, next{0};
    {
        Frozen frozen(stack->worker());
        std::vector<std::thread> senders;
        for (int t = 0; t < 8; ++t) {
            senders.emplace_back([&] {
                httplib::Client c("127.0.0.1", stack->ingress_port());
                httplib::Headers h{{"Authorization", std::string("Bearer ") + kSecret}};
                for (int i = next++; i < 1000; i = next++) {
                    auto r = c.Post("/revalidate", h, bodies[i], "application/json");
                    if (r && r->status == 202) ++accepted;
                }
            });
        }
        for (auto& s : senders) s.join();
    }
    EXPECT_EQ(accepted, 1000);

    bool all = eventually(
        [&] {
            if (stack->cache_get("/articles") != stack->expected_list()) return false;
            for (const auto& id : ids) {
                if (stack->cache_get("/articles/" + id) != stack->expected_row(id)) return false;
            }
            return true;
        },
        std::chrono::seconds(20));
    EXPECT_TRUE(all);
    double rebuilds =
        stack->worker_metric("revalidator_worker_list_rebuilds_total{collection=\"articles\"}") -
        rebuilds_before;
    double batches =
        stack->worker_metric("revalidator_worker_batches_total{collection=\"articles\"}") -
        batches_before;
    std::cout << "[ figures  ] 1000 webhooks for 200 rows, worker frozen during the burst -> "
              << batches << " batches, " << rebuilds << " list rebuilds\n";
    EXPECT_GE(rebuilds, 1);
    EXPECT_LE(rebuilds, batches) << "a batch rebuilds the list at most once";
    EXPECT_LE(rebuilds * 10, 1000) << "events waiting together must coalesce";
}

TEST_F(Pipeline, AdminResyncRemovesKeysOfVanishedRows) {
    std::string id =
        *stack->sql("INSERT INTO public.articles (title) VALUES ('Ghost') RETURNING id");
    ASSERT_EQ(stack->webhook(stack->webhook_for("INSERT", id))->status, 202);
    ASSERT_TRUE(stack->converges(id));
    stack->sql("DELETE FROM public.articles WHERE id = " + id);  // and the webhook is lost
    httplib::Client admin("127.0.0.1", stack->worker_admin_port());
    auto denied = admin.Post("/resync", httplib::Headers{{"Authorization", "Bearer wrong"}}, "",
                             "application/json");
    ASSERT_TRUE(denied);
    EXPECT_EQ(denied->status, 401);
    auto r = admin.Post("/resync", httplib::Headers{{"Authorization", "Bearer admin-secret"}}, "",
                        "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 202);
    EXPECT_TRUE(eventually([&] { return !stack->cache_get("/articles/" + id).has_value(); }));
    EXPECT_TRUE(stack->list_converges());
}

// Every rejection over real HTTP: status and error code, and nothing reaches the cache.
struct Rejected {
    const char* name;
    std::string method, path, content_type, auth, body;
    int status;
    const char* code;
};

TEST_F(Pipeline, RejectionsCarryStatusCodeAndDetail) {
    const std::string ok_auth = std::string("Bearer ") + kSecret;
    const std::string good = Stack::webhook_body("UPDATE", {{"id", 1}}, {{"id", 1}});
    const std::vector<Rejected> cases = {
        {"no credentials", "POST", "/revalidate", "application/json", "", good, 401,
         "unauthorized"},
        {"wrong secret", "POST", "/revalidate", "application/json", "Bearer nope", good, 401,
         "unauthorized"},
        {"basic scheme", "POST", "/revalidate", "application/json", "Basic eDp5", good, 401,
         "unauthorized"},
        {"malformed json", "POST", "/revalidate", "application/json", ok_auth, "{\"type\":", 400,
         "malformed_json"},
        {"not an object", "POST", "/revalidate", "application/json", ok_auth, "[1,2]", 400,
         "invalid_body"},
        {"missing type", "POST", "/revalidate", "application/json", ok_auth,
         R"({"table":"articles","schema":"public","record":{"id":1}})", 400, "missing_field"},
        {"bad type", "POST", "/revalidate", "application/json", ok_auth,
         R"({"type":"UPSERT","table":"articles","schema":"public","record":{"id":1}})", 400,
         "invalid_field"},
        {"not json", "POST", "/revalidate", "text/plain", ok_auth, good, 415,
         "unsupported_media_type"},
        {"unknown table", "POST", "/revalidate", "application/json", ok_auth,
         R"({"type":"UPDATE","table":"users","schema":"public","record":{"id":1}})", 422,
         "unknown_table"},
        {"id with space", "POST", "/revalidate", "application/json", ok_auth,
         R"({"type":"UPDATE","table":"articles","schema":"public","record":{"id":"a b"}})", 422,
         "invalid_id"},
        {"fractional id", "POST", "/revalidate", "application/json", ok_auth,
         R"({"type":"UPDATE","table":"articles","schema":"public","record":{"id":1.5}})", 422,
         "invalid_id"},
        {"unknown route", "GET", "/nope", "", "", "", 404, "not_found"},
        {"wrong method", "GET", "/revalidate", "", ok_auth, "", 405, "method_not_allowed"},
    };
    double events_before =
        stack->worker_metric("revalidator_worker_events_total{collection=\"articles\"}");
    httplib::Client c("127.0.0.1", stack->ingress_port());
    for (const auto& k : cases) {
        httplib::Headers h;
        if (!k.auth.empty()) h.emplace("Authorization", k.auth);
        auto r = k.method == "GET" ? c.Get(k.path, h) : c.Post(k.path, h, k.body, k.content_type);
        ASSERT_TRUE(r) << k.name;
        EXPECT_EQ(r->status, k.status) << k.name << ": " << r->body;
        auto body = json::parse(r->body, nullptr, false);
        ASSERT_TRUE(body.is_object()) << k.name << ": " << r->body;
        EXPECT_EQ(body.value("error", ""), k.code) << k.name;
        EXPECT_FALSE(body.value("detail", "").empty()) << k.name;
    }
    // Too large: refused by its Content-Length, before the body, so no body is sent. (A client that
    // sends the body anyway may see the connection closed under it, which is no answer to check.)
    auto big = raw_http(stack->ingress_port(),
                        "POST /revalidate HTTP/1.1\r\nHost: t\r\nAuthorization: " + ok_auth +
                            "\r\nContent-Type: application/json\r\nContent-Length: " +
                            std::to_string(2 << 20) + "\r\n\r\n");
    EXPECT_EQ(big.status, 413);
    auto body = json::parse(big.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << big.body;
    EXPECT_EQ(body.value("error", ""), "payload_too_large");
    EXPECT_FALSE(body.value("detail", "").empty());
    // None of them became an event.
    EXPECT_EQ(stack->worker_metric("revalidator_worker_events_total{collection=\"articles\"}"),
              events_before);
}
