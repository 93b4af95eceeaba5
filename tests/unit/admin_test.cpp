// The worker's admin endpoints as tables of answers (status and body), served by the real
// http::Server on a free loopback port, over the real BatchLoop with the in-memory source and sink.
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

#include "runtime/clock.hpp"
#include "wire/wire.hpp"
#include "worker_fakes.hpp"

namespace revalidator::worker {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// One served table: a loop over the in-memory source and sink, and whether it is active.
struct Table {
    Table(metrics::Registry& root, const std::string& collection)
        : collection(collection),
          scope(root, collection.empty() ? "" : metrics::label("collection", collection)) {}

    std::string collection;
    metrics::Registry scope;
    fakes::FakeSource source;
    fakes::FakeSink sink;
    Applier applier{source, sink, fakes::default_applier(), scope};
    BatchLoop loop{applier, fakes::quick_loop(), scope};
    std::atomic<bool> active{false};

    // Whether a full resync was pending: one step applies it.
    bool resync_scheduled() {
        const auto before = source.calls.size();
        loop.step();
        return source.calls.size() > before && source.calls.back().full;
    }
};

// The admin routes over the tables' loops (one table of no name: a worker configured by the table
// flags), served in a thread of their own until destroyed. `source`, `sink`, `loop` and `active`
// are the first table's.
class Admin {
  public:
    explicit Admin(const std::string& secret, const std::vector<std::string>& collections = {""})
        : tables(make_tables(registry, collections)),
          source(tables[0]->source),
          sink(tables[0]->sink),
          loop(tables[0]->loop),
          active(tables[0]->active),
          auth_({secret}),
          server_(admin_tuning(), registry) {
        std::vector<AdminTable> served;
        for (auto& t : tables) {
            served.push_back({t->collection, t->loop, [&t = *t] { return t.active.load(); }});
        }
        add_admin_routes(server_, {registry, auth_, std::move(served)});
        port_ = server_.bind("127.0.0.1", 0);
        if (port_ <= 0) throw std::runtime_error("bind failed");
        served_ = std::async(std::launch::async, [this] { server_.serve(); });
    }
    ~Admin() {
        server_.stop();
        served_.wait();
    }

    metrics::Registry registry;
    std::vector<std::unique_ptr<Table>> tables;
    fakes::FakeSource& source;
    fakes::FakeSink& sink;
    BatchLoop& loop;
    std::atomic<bool>& active;

    httplib::Result get(const std::string& path) { return client().Get(path.c_str()); }
    httplib::Result post(const std::string& path, const std::optional<std::string>& authorization) {
        httplib::Headers headers;
        if (authorization) headers.emplace("Authorization", *authorization);
        return client().Post(path.c_str(), headers, "", "application/json");
    }

    bool resync_scheduled() { return tables[0]->resync_scheduled(); }

  private:
    static std::vector<std::unique_ptr<Table>> make_tables(
        metrics::Registry& registry, const std::vector<std::string>& collections) {
        std::vector<std::unique_ptr<Table>> out;
        for (const auto& c : collections) out.push_back(std::make_unique<Table>(registry, c));
        return out;
    }

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
        {"POST", "/readyz", 405, "method_not_allowed", "GET, HEAD"},
        {"POST", "/healthz", 405, "method_not_allowed", "GET, HEAD"},
        {"POST", "/metrics", 405, "method_not_allowed", "GET, HEAD"},
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

TEST(Admin, SeveralTablesAreReadyTogetherAndResyncAloneOrAll) {
    Admin admin("s3cret", {"articles", "authors"});
    auto& articles = *admin.tables[0];
    auto& authors = *admin.tables[1];
    for (auto* t : {&articles, &authors}) {
        t->loop.request_resync("test");
        t->loop.step();
    }
    const auto detail = [](const char* role, bool postgres) {
        return json{
            {"role", role}, {"postgres", postgres}, {"memcached", true}, {"pending_keys", 0}};
    };

    articles.active = true;
    auto r = admin.get("/readyz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503) << "one table still standby";
    EXPECT_EQ(
        parsed(r),
        (json{{"ready", false},
              {"detail",
               {{"collections",
                 {{"articles", detail("active", true)}, {"authors", detail("standby", true)}}}}}}))
        << r->body;

    authors.active = true;
    r = admin.get("/readyz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;

    r = admin.post("/resync/authors", "Bearer s3cret");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 202);
    EXPECT_EQ(parsed(r), (json{{"resync", "scheduled"}, {"collections", {"authors"}}}));
    EXPECT_FALSE(articles.resync_scheduled());
    EXPECT_TRUE(authors.resync_scheduled());

    r = admin.post("/resync", "Bearer s3cret");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 202);
    EXPECT_EQ(parsed(r), (json{{"resync", "scheduled"}, {"collections", {"articles", "authors"}}}));
    EXPECT_TRUE(articles.resync_scheduled());
    EXPECT_TRUE(authors.resync_scheduled());

    struct Case {
        std::string method, path;
        std::optional<std::string> authorization;
        int status;
        std::string code;
    };
    const std::vector<Case> cases = {
        {"POST", "/resync/notes", "Bearer s3cret", 404, "not_found"},
        {"POST", "/resync/authors", "Bearer nope", 401, "unauthorized"},
        {"POST", "/resync/no.such", "Bearer s3cret", 404, "not_found"},
        {"GET", "/resync/authors", std::nullopt, 405, "method_not_allowed"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.method + " " + c.path);
        r = c.method == "GET" ? admin.get(c.path) : admin.post(c.path, c.authorization);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, c.status);
        EXPECT_EQ(without_detail(parsed(r)), refusal(c.code)) << r->body;
    }
    EXPECT_FALSE(articles.resync_scheduled());
    EXPECT_FALSE(authors.resync_scheduled());

    authors.source.fail = true;
    authors.loop.request_resync("test");
    authors.loop.step();
    r = admin.get("/readyz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503) << "authors' Postgres reads fail";
    EXPECT_EQ(parsed(r)["detail"]["collections"]["authors"], detail("active", false)) << r->body;

    auto metrics = admin.get("/metrics");
    ASSERT_TRUE(metrics);
    for (const char* c : {"articles", "authors"}) {
        EXPECT_NE(metrics->body.find(std::string("revalidator_worker_pending_keys{collection=\"") +
                                     c + "\"} 0"),
                  std::string::npos)
            << metrics->body;
    }
}

}  // namespace
}  // namespace revalidator::worker
