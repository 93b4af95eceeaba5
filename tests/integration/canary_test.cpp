// The canary through the real path, and a dead feed noticed (docs/operations.md, "The canary"):
// webhooks come from the stand-in sender (schema/stand_in_sender.sql, tools/stand_in_sender.cpp)
// after each commit, for the rows of two collections and for their canary rows. Once the
// articles' webhooks stop (its triggers dropped) while its rows keep changing and the authors'
// webhooks still flow, the articles' worker reports its feed silent within 3 intervals of the
// last beat it saw, the authors' does not, the repair pass keeps the articles' cache right
// meanwhile, and the silence ends once the webhooks come back.
#include <gtest/gtest.h>

#include <csignal>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "stack.hpp"

using namespace revalidator::testing;
using namespace std::chrono_literals;

namespace {

constexpr int kIntervalMs = 500;

std::string trigger(const std::string& name, const std::string& on, const std::string& when = "") {
    return "CREATE TRIGGER " + name + " AFTER INSERT OR UPDATE OR DELETE ON " + on +
           " FOR EACH ROW " + (when.empty() ? "" : "WHEN (" + when + ") ") +
           "EXECUTE FUNCTION revalidator.queue_webhook()";
}

StackOptions canaried() {
    return {
        .worker_args = {"--canary-interval-ms", std::to_string(kIntervalMs), "--resync-interval-s",
                        "0", "--verify-rate", "2000", "--verify-slice", "100"},
        .setup_sql = {schema_file("canary.sql"), schema_file("stand_in_sender.sql"),
                      trigger("articles_revalidate", "public.articles"),
                      canary_trigger("articles")},
        .authors = true};
}

// The canary part of worker `i`'s readiness detail, and whether /readyz answered 200.
struct Readiness {
    int status = 0;
    nlohmann::json canary;
};

Readiness readiness(Stack& s, int i) {
    httplib::Client c("127.0.0.1", s.worker_admin_port(i));
    c.set_read_timeout(2, 0);
    auto r = c.Get("/readyz");
    if (!r) return {};
    auto body = nlohmann::json::parse(r->body, nullptr, false);
    return {r->status, body.is_object()
                           ? body.value("/detail/canary"_json_pointer, nlohmann::json::object())
                           : nlohmann::json::object()};
}

double seen(Stack& s, const std::string& collection, int i) {
    return s.worker_metric("revalidator_canary_beats_seen_total{collection=\"" + collection + "\"}",
                           i);
}

bool articles_cache_is_true(Stack& s) {
    for (const auto& id : s.sql_column("SELECT id FROM public.articles ORDER BY id")) {
        if (s.cache_get("/articles/" + id) != s.expected_row(id)) return false;
    }
    return s.cache_list() == s.expected_list();
}

template <class Done>
bool poll_until(Done done, std::chrono::milliseconds timeout,
                const std::function<void()>& each = {}) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) return true;
        if (each) each();
        std::this_thread::sleep_for(20ms);
    }
    return done();
}

TEST(Canary, ADeadFeedIsNamedWithin3IntervalsWhileTheRepairPassKeepsTheCacheRight) {
    Stack s(canaried());
    struct Diagnose {
        Stack& s;
        ~Diagnose() {
            if (::testing::Test::HasFailure()) std::cerr << s.diagnostics() << "\n";
        }
    } diagnose{s};
    s.sql(trigger("authors_revalidate", "public.authors"));
    s.sql(canary_trigger("authors"));
    Process sender({SENDER_BIN, "--postgres-url", s.postgres().url(), "--url",
                    "http://127.0.0.1:" + std::to_string(s.ingress_port()) + "/revalidate",
                    "--secret", kSecret},
                   s.dir() + "/sender.log");
    const int articles = s.active_worker("articles");
    const int authors = s.active_worker("authors");
    ASSERT_GE(articles, 0);
    ASSERT_GE(authors, 0);

    // The beats travel the whole path, and a row changed through it reaches the cache.
    ASSERT_TRUE(poll_until([&] { return seen(s, "articles", articles) >= 2; }, 20s))
        << read_file(s.dir() + "/sender.log");
    ASSERT_TRUE(poll_until([&] { return seen(s, "authors", authors) >= 2; }, 20s));
    EXPECT_GE(s.worker_metric("revalidator_canary_staleness_seconds_count{collection=\"articles\"}",
                              articles),
              2);
    const auto beats = [&](const std::string& part) {
        return s.worker_metric(
            "revalidator_canary_staleness_seconds_" + part + "{collection=\"articles\"}", articles);
    };
    std::cout << "[ canary ] " << beats("count") << " beats seen, commit -> cache "
              << 1000 * beats("sum") / beats("count") << " ms on average\n";
    s.sql("UPDATE public.articles SET title = 'through the sender' WHERE id = 1");
    EXPECT_TRUE(s.converges("1"));
    EXPECT_EQ(readiness(s, articles).canary.value("silent", true), false);

    // The articles' hooks are gone; its rows keep changing.
    s.sql("DROP TRIGGER articles_revalidate ON public.articles");
    s.sql("DROP TRIGGER canary_articles ON revalidator.canary");
    const auto dropped = std::chrono::steady_clock::now();
    int version = 0;
    const auto change = [&] {
        ++version;
        s.sql("UPDATE public.articles SET version = version + 1, title = 'unsent " +
              std::to_string(version) + "' WHERE id = " + std::to_string(1 + version % 5));
    };
    ASSERT_TRUE(poll_until([&] { return readiness(s, articles).canary.value("silent", false); },
                           30s, change));
    const auto noticed = std::chrono::duration<double>(std::chrono::steady_clock::now() - dropped);
    std::cout << "[ canary ] dead feed noticed " << noticed.count() << " s after the triggers "
              << "were dropped (interval " << kIntervalMs << " ms)\n";
    // 3 intervals from the last beat seen, which came before the drop; the rest is this test's
    // polling on a shared machine.
    EXPECT_LT(noticed.count(), 3 * kIntervalMs / 1000.0 + 1.5);
    const Readiness silent = readiness(s, articles);
    EXPECT_EQ(silent.status, 200) << "a silent feed reports, never takes the worker out";
    EXPECT_EQ(silent.canary.value("collection", ""), "articles");
    EXPECT_EQ(s.worker_metric("revalidator_canary_silent_total{collection=\"articles\"}", articles),
              1);
    EXPECT_EQ(s.worker_metric("revalidator_canary_silent{collection=\"articles\"}", articles), 1);

    // The other collection's feed lives on.
    const double authors_seen = seen(s, "authors", authors);
    EXPECT_TRUE(poll_until([&] { return seen(s, "authors", authors) > authors_seen; }, 10s));
    EXPECT_EQ(readiness(s, authors).canary.value("silent", true), false);

    // The repair pass heals the changes no webhook announced.
    change();
    EXPECT_TRUE(poll_until([&] { return articles_cache_is_true(s); }, 20s));

    // Hooks back: the silence ends, counted once.
    s.sql(trigger("articles_revalidate", "public.articles"));
    s.sql(canary_trigger("articles"));
    EXPECT_TRUE(
        poll_until([&] { return !readiness(s, articles).canary.value("silent", true); }, 20s));
    EXPECT_EQ(s.worker_metric("revalidator_canary_silent_total{collection=\"articles\"}", articles),
              1);
    EXPECT_EQ(sender.stop(SIGTERM), 0) << read_file(s.dir() + "/sender.log");
}

// scripts/cluster's sender posts through HAProxy, whose certificate is its own: the sender
// verifies it against --ca-file, and without that file refuses to send, as the system's CAs do
// not vouch for it.
TEST(Canary, TheStandInSenderPostsOverHttpsTrustingItsCaFile) {
    Stack s({.worker_args = {"--canary-interval-ms", std::to_string(kIntervalMs)},
             .setup_sql = {schema_file("canary.sql"), schema_file("stand_in_sender.sql"),
                           canary_trigger("articles")},
             .balancer = true});
    const std::string url =
        "https://127.0.0.1:" + std::to_string(s.balancer_port()) + "/revalidate";
    const auto sender = [&](const std::string& log, std::vector<std::string> extra) {
        std::vector<std::string> argv{
            SENDER_BIN, "--postgres-url", s.postgres().url(), "--url", url, "--secret", kSecret};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return std::make_unique<Process>(argv, s.dir() + "/" + log);
    };

    auto untrusting = sender("untrusting.log", {});
    EXPECT_TRUE(poll_until(
        [&] {
            return read_file(s.dir() + "/untrusting.log").find("webhook lost") != std::string::npos;
        },
        20s))
        << read_file(s.dir() + "/untrusting.log");
    EXPECT_EQ(untrusting->stop(SIGTERM), 0);
    EXPECT_EQ(seen(s, "articles", 0), 0) << "no beat may pass an unverified certificate";

    auto trusting = sender("trusting.log", {"--ca-file", s.balancer_ca_file()});
    EXPECT_TRUE(poll_until([&] { return seen(s, "articles", 0) >= 2; }, 20s))
        << read_file(s.dir() + "/trusting.log");
    EXPECT_EQ(trusting->stop(SIGTERM), 0);
}

}  // namespace
