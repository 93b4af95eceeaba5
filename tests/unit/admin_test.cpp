// The worker's admin endpoints as tables of answers (status and body), served by the real
// http::Server on a free loopback port, over the real Loop with the in-memory source and sink.
#include "admin.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <httplib.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "clock.hpp"
#include "wire.hpp"
#include "worker_fakes.hpp"

namespace revalidator::worker {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// The admin routes over a loop, served in a thread of their own until destroyed.
class Admin {
  public:
    explicit Admin(const std::string& secret) : auth_({secret}), server_(admin_tuning(), registry) {
        add_admin_routes(server_, {registry, auth_, loop, [this] { return active.load(); }});
        port_ = server_.bind("127.0.0.1", 0);
        if (port_ <= 0) throw std::runtime_error("bind failed");
        served_ = std::async(std::launch::async, [this] { server_.serve(); });
    }
    ~Admin() {
        server_.stop();
        served_.wait();
    }

    fakes::FakeSource source;
    fakes::FakeSink sink;
    metrics::Registry registry;
    Applier applier{source, sink, fakes::default_applier(), registry};
    Loop loop{applier, fakes::quick_loop(), registry};
    std::atomic<bool> active{false};

    httplib::Result get(const std::string& path) { return client().Get(path.c_str()); }
    httplib::Result post(const std::string& path, const std::optional<std::string>& authorization) {
        httplib::Headers headers;
        if (authorization) headers.emplace("Authorization", *authorization);
        return client().Post(path.c_str(), headers, "", "application/json");
    }

    // Whether a full resync was pending: one step applies it.
    bool resync_scheduled() {
        const auto before = source.calls.size();
        loop.step();
        return source.calls.size() > before && source.calls.back().full;
    }

  private:
    httplib::Client client() {
        httplib::Client c("127.0.0.1", port_);
        c.set_connection_timeout(2);
        c.set_read_timeout(5);
        return c;
    }

    BearerAuth auth_;
    http::Server server_;
    int port_ = -1;
    std::future<void> served_;
};

json parsed(const httplib::Result& r) {
    return json::parse(r->body, nullptr, false);
}

json refusal(const std::string& code) {
    return {{"error", code}};
}

// A refusal's body without its detail, which is prose; the detail must be there.
json without_detail(json body) {
    EXPECT_TRUE(body.is_object() && body.contains("detail") &&
                !body["detail"].get<std::string>().empty())
        << body.dump();
    if (body.is_object()) body.erase("detail");
    return body;
}

TEST(Admin, ResyncNeedsTheBearerSecret) {
    struct Case {
        std::string name;
        std::string secret;  // configured; empty: none
        std::optional<std::string> authorization;
        int status;
        json body;  // for a refusal, without its detail
        bool scheduled;
    };
    const json scheduled = {{"resync", "scheduled"}};
    const std::vector<Case> cases = {
        {"off without a secret", "", "Bearer s3cret", 403, refusal("forbidden"), false},
        {"off without a secret, no credentials", "", std::nullopt, 403, refusal("forbidden"),
         false},
        {"no credentials", "s3cret", std::nullopt, 401, refusal("unauthorized"), false},
        {"wrong secret", "s3cret", "Bearer nope", 401, refusal("unauthorized"), false},
        {"another scheme", "s3cret", "Basic czNjcmV0", 401, refusal("unauthorized"), false},
        {"the secret", "s3cret", "Bearer s3cret", 202, scheduled, true},
        {"the scheme in any case", "s3cret", "bearer s3cret", 202, scheduled, true},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        Admin admin(c.secret);
        auto r = admin.post("/resync", c.authorization);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, c.status);
        EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
        EXPECT_EQ(c.status == 202 ? parsed(r) : without_detail(parsed(r)), c.body) << r->body;
        EXPECT_EQ(admin.resync_scheduled(), c.scheduled);
    }
}

TEST(Admin, ReadyOnlyWhileActiveWithPostgresAndMemcachedAnswering) {
    struct Case {
        std::string name;
        bool active;
        std::function<void(Admin&)> setup;
        int status;
        json body;
    };
    const auto answered = [](Admin& a) {
        a.loop.request_resync("test");
        a.loop.step();
    };
    const auto detail = [](const char* role, bool postgres, bool memcached, int pending) {
        return json{{"role", role},
                    {"postgres", postgres},
                    {"memcached", memcached},
                    {"pending_keys", pending}};
    };
    const std::vector<Case> cases = {
        {"active, both answered",
         true,
         answered,
         200,
         {{"ready", true}, {"detail", detail("active", true, true, 0)}}},
        {"standby",
         false,
         answered,
         503,
         {{"ready", false}, {"detail", detail("standby", true, true, 0)}}},
        {"Postgres not reached yet",
         true,
         [](Admin&) {},
         503,
         {{"ready", false}, {"detail", detail("active", false, true, 0)}}},
        {"Postgres down",
         true,
         [](Admin& a) {
             a.source.fail = true;
             a.loop.request_resync("test");
             a.loop.step();
         },
         503,
         {{"ready", false}, {"detail", detail("active", false, true, 0)}}},
        {"Memcached down",
         true,
         [](Admin& a) {
             a.sink.unreachable = true;
             a.loop.request_resync("test");
             a.loop.step();
         },
         503,
         {{"ready", false}, {"detail", detail("active", true, false, 0)}}},
        {"keys owed",
         true,
         [&](Admin& a) {
             answered(a);
             for (std::uint64_t seq : {1, 2}) {
                 a.loop.ingest({wire::encode(Event{"ingress-a", 1, seq, unix_micros(), Op::Update,
                                                   "public", "articles", std::to_string(seq)})});
             }
         },
         200,
         {{"ready", true}, {"detail", detail("active", true, true, 2)}}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        Admin admin("");
        admin.active = c.active;
        c.setup(admin);
        auto r = admin.get("/readyz");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, c.status);
        EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
        EXPECT_EQ(parsed(r), c.body) << r->body;
    }
}

TEST(Admin, ProbesMetricsAndWrongMethods) {
    Admin admin("s3cret");
    admin.active = true;

    auto health = admin.get("/healthz");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    EXPECT_EQ(parsed(health), (json{{"status", "ok"}}));

    auto metrics = admin.get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_EQ(metrics->status, 200);
    EXPECT_EQ(metrics->get_header_value("Content-Type"), "text/plain; version=0.0.4");
    EXPECT_EQ(fakes::metric(metrics->body, "revalidator_worker_pending_keys"), 0);

    struct Case {
        std::string method, path;
        int status;
        std::string code, allow;
    };
    const std::vector<Case> cases = {
        {"GET", "/resync", 405, "method_not_allowed", "POST"},
        {"POST", "/readyz", 405, "method_not_allowed", "GET"},
        {"POST", "/healthz", 405, "method_not_allowed", "GET"},
        {"POST", "/metrics", 405, "method_not_allowed", "GET"},
        {"GET", "/nope", 404, "not_found", ""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.method + " " + c.path);
        auto r = c.method == "GET" ? admin.get(c.path) : admin.post(c.path, "Bearer s3cret");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, c.status);
        EXPECT_EQ(r->get_header_value("Allow"), c.allow);
        EXPECT_EQ(without_detail(parsed(r)), refusal(c.code)) << r->body;
    }
    EXPECT_FALSE(admin.resync_scheduled());
}

}  // namespace
}  // namespace revalidator::worker
