// Primary keys of every kind. Those that cannot be Memcached keys: a text primary key
// can hold what no webhook could carry past the ingress: "\r\n" and a command after it, a space,
// 300 bytes. Such rows are read by every full resync; none of their keys may reach Memcached, and
// the rest of the table must still be cached by a worker that stays up and ready. And uuid keys,
// Supabase's default, end to end: webhooks, list, and reads.
#include <gtest/gtest.h>

#include <cctype>
#include <csignal>
#include <fstream>
#include <sstream>

#include "stack.hpp"

using namespace revalidator::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string kAdmin = "admin-secret";

std::size_t count_lines_with(const std::string& path, const std::string& needle) {
    std::ifstream in(path);
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line)) n += line.find(needle) != std::string::npos;
    return n;
}

std::string upper_case(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

bool resync(Stack& s) {
    httplib::Client c("127.0.0.1", s.worker_admin_port());
    auto r = c.Post("/resync", {{"Authorization", "Bearer " + kAdmin}}, "", "text/plain");
    return r && r->status == 202;
}

int readyz(Stack& s) {
    httplib::Client c("127.0.0.1", s.worker_admin_port());
    auto r = c.Get("/readyz");
    return r ? r->status : 0;
}

}  // namespace

TEST(Keys, RowsWhoseKeyCannotBeACacheKeyAreSkippedAndTheRestIsCached) {
    Stack s({.worker_args = {"--table", "slugs", "--primary-key", "slug", "--prefix", "/slugs",
                             "--admin-secret", kAdmin},
             .ingress_args = {"--table", "slugs", "--primary-key", "slug"},
             .setup_sql = {
                 "CREATE TABLE public.slugs (slug text PRIMARY KEY, title text NOT NULL)",
                 // Valid ids, UTF-8 included, then one per way a key can be misread.
                 R"(INSERT INTO public.slugs VALUES ('hello', 'Hello'), (U&'caf\00E9', 'Cafe'),
                      ('z-1_2.3', 'Dots'),
                      (E'a\r\nset injected 0 0 1\r\nI\r\nget a', 'Injection'),
                      ('a b', 'Space'), (repeat('x', 300), 'Long'), ('', 'Empty'),
                      (E'ctl\x01char', 'Control'), (E'tab\there', 'Tab'))"}});
    const std::size_t hostile = 6;
    auto expected_list = [&] {
        return s.sql(
            "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.slug)::text, '[]') "
            "FROM public.slugs t");
    };
    auto row = [&](const std::string& slug) {
        return s.sql("SELECT to_jsonb(t)::text FROM public.slugs t WHERE slug = '" + slug + "'");
    };
    const std::vector<std::string> valid = {"hello", "caf\xc3\xa9", "z-1_2.3"};

    // The list is the table: every row, the hostile ones too.
    EXPECT_TRUE(eventually([&] { return s.cache_get("/slugs") == expected_list(); }));
    for (const auto& slug : valid) EXPECT_EQ(s.cache_get("/slugs/" + slug), row(slug)) << slug;
    // What the injected command would have written.
    EXPECT_FALSE(s.cache_get("injected").has_value());
    EXPECT_FALSE(s.cache_get("/slugs/a").has_value());
    EXPECT_FALSE(s.cache_get("/slugs/").has_value());

    // The anti-entropy pass meets them too, and finds nothing to heal in them: no false alarm
    // that would re-read them forever, no failure.
    ASSERT_TRUE(eventually([&] {
        return s.worker_metric("revalidator_worker_verify_passes_total{collection=\"slugs\"}") >= 3;
    }));
    for (const char* kind : {"missing", "wrong", "vanished", "stray_key", "list", "list_row"}) {
        EXPECT_EQ(
            s.worker_metric(
                std::string("revalidator_worker_divergences_total{collection=\"slugs\",kind=\"") +
                kind + "\"}"),
            0)
            << kind;
    }
    EXPECT_EQ(s.worker_metric("revalidator_worker_verify_failures_total{collection=\"slugs\"}"), 0);

    // Every resync meets the rows again: counted each time, logged once each.
    ASSERT_TRUE(resync(s));
    ASSERT_TRUE(eventually([&] {
        return s.worker_metric("revalidator_worker_resyncs_total{collection=\"slugs\"}") >= 2;
    }));
    ASSERT_TRUE(resync(s));
    ASSERT_TRUE(eventually([&] {
        return s.worker_metric("revalidator_worker_resyncs_total{collection=\"slugs\"}") >= 3;
    }));
    EXPECT_GE(s.worker_metric("revalidator_worker_rows_unkeyable_total{collection=\"slugs\"}"),
              3.0 * hostile);
    EXPECT_EQ(count_lines_with(s.worker(0).log_path(), "its primary key cannot be a cache key"),
              hostile);
    EXPECT_TRUE(s.worker(0).alive());
    EXPECT_EQ(readyz(s), 200);

    // Events still flow.
    s.sql("UPDATE public.slugs SET title = 'Hello again' WHERE slug = 'hello'");
    json rec = json::parse(*row("hello"));
    auto r = s.webhook(json{
        {"type", "UPDATE"},
        {"table", "slugs"},
        {"schema", "public"},
        {"record", rec},
        {"old_record",
         rec}}.dump());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 202);
    EXPECT_TRUE(eventually([&] {
        return s.cache_get("/slugs/hello") == row("hello") &&
               s.cache_get("/slugs") == expected_list();
    }));

    // A new worker learns the cached keys from the list, hostile ids included; it uses none of
    // them, and still deletes the key of a row deleted while no worker ran.
    ASSERT_EQ(s.worker(0).stop(SIGTERM), 0);
    s.sql("DELETE FROM public.slugs WHERE slug IN ('z-1_2.3', 'a b')");
    s.start_worker(0);
    EXPECT_TRUE(eventually([&] {
        return s.cache_get("/slugs") == expected_list() && !s.cache_get("/slugs/z-1_2.3");
    }));
    EXPECT_EQ(s.cache_get("/slugs/hello"), row("hello"));
    EXPECT_FALSE(s.cache_get("injected").has_value());
    EXPECT_EQ(readyz(s), 200);
    if (HasFailure()) std::cerr << s.diagnostics() << "\n";
}

// An integer key compares by value: "007" passed the id checks, Postgres matched it to row 7 and
// answered with pk 7, and the worker then took row 7 out of its list as not found.
TEST(Keys, UuidKeysFromWebhookToReadAsSupabaseMakesThem) {
    Stack s({.worker_args = {"--table", "notes", "--prefix", "/notes"},
             .ingress_args = {"--table", "notes", "--prefix", "/notes"},
             .reads_from_postgres = true,
             .setup_sql = {"CREATE TABLE public.notes (id uuid PRIMARY KEY DEFAULT "
                           "gen_random_uuid(), title text NOT NULL)",
                           "INSERT INTO public.notes (title) SELECT 'Note ' || g "
                           "FROM generate_series(1, 3) g"}});
    auto row = [&](const std::string& id) {
        return s.sql("SELECT to_jsonb(t)::text FROM public.notes t WHERE id = '" + id + "'");
    };
    auto list = [&] {
        return s.sql(
            "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.id)::text, '[]') FROM public.notes "
            "t");
    };
    auto hook = [&](const std::string& type, const std::string& id, const std::string& title) {
        json rec = {{"id", id}, {"title", title}};
        auto r = s.webhook(json{{"type", type},
                                {"table", "notes"},
                                {"schema", "public"},
                                {"record", type == "DELETE" ? json(nullptr) : rec},
                                {"old_record", type == "INSERT" ? json(nullptr) : rec}}
                               .dump());
        return r ? r->status : 0;
    };
    auto gone = [&](const std::string& id) {
        return eventually(
            [&] { return !s.cache_get("/notes/" + id) && s.cache_get("/notes") == list(); });
    };
    auto converged = [&](const std::string& id) {
        return eventually([&] {
            return s.cache_get("/notes/" + id) == row(id) && s.cache_get("/notes") == list();
        });
    };
    for (const auto& id : s.sql_column("SELECT id::text FROM public.notes")) {
        EXPECT_TRUE(converged(id)) << id;
    }

    const std::string id = "0b7e2c4a-9d1f-4e8b-a6c3-5f2d8e1a7b90";
    s.sql("INSERT INTO public.notes VALUES ('" + id + "', 'Inserted')");
    ASSERT_EQ(hook("INSERT", id, "Inserted"), 202);
    EXPECT_TRUE(converged(id));

    // Postgres reads an upper-case uuid as the same row; only its own spelling is a key.
    const std::string upper = upper_case(id);
    s.sql("UPDATE public.notes SET title = 'Updated' WHERE id = '" + id + "'");
    ASSERT_EQ(hook("UPDATE", upper, "Updated"), 202);
    EXPECT_TRUE(converged(id));
    EXPECT_FALSE(s.cache_get("/notes/" + upper).has_value());

    httplib::Client reader("127.0.0.1", s.ingress_port());
    auto hit = reader.Get(("/notes/" + id).c_str());
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->status, 200);
    EXPECT_EQ(hit->body, row(id).value_or(""));
    auto malformed = reader.Get("/notes/not-a-uuid");
    ASSERT_TRUE(malformed);
    EXPECT_EQ(malformed->status, 404) << "no row can have that key: " << malformed->body;

    s.sql("DELETE FROM public.notes WHERE id = '" + id + "'");
    ASSERT_EQ(hook("DELETE", id, "Updated"), 202);
    EXPECT_TRUE(gone(id));
    auto deleted = reader.Get(("/notes/" + id).c_str());
    ASSERT_TRUE(deleted);
    EXPECT_EQ(deleted->status, 404) << "Postgres has no such row: " << deleted->body;

    // A DELETE naming its row in upper case removes it from the list too.
    const std::string other = "f1d2c3b4-a5e6-4f70-8a9b-0c1d2e3f4a5b";
    s.sql("INSERT INTO public.notes VALUES ('" + other + "', 'Other')");
    ASSERT_EQ(hook("INSERT", other, "Other"), 202);
    EXPECT_TRUE(converged(other));
    s.sql("DELETE FROM public.notes WHERE id = '" + other + "'");
    ASSERT_EQ(hook("DELETE", "{" + upper_case(other) + "}", "Other"), 202);
    EXPECT_TRUE(gone(other));
}

TEST(Keys, IntegerIdsInAnySpellingNameTheirRowByValue) {
    Stack s;
    s.sql("INSERT INTO public.articles (id, title) VALUES (7, 'Seven')");
    ASSERT_EQ(s.webhook(s.webhook_for("INSERT", "7"))->status, 202);
    ASSERT_TRUE(s.converges("7"));
    // Events are applied in order: once row 1's change shows, every event before it was applied.
    auto fence = [&] {
        s.sql("UPDATE public.articles SET version = version + 1 WHERE id = 1");
        auto r = s.webhook(s.webhook_for("UPDATE", "1"));
        return r && r->status == 202 && s.converges("1");
    };
    auto send = [&](const std::string& type, const json& id) {
        json rec = {{"id", id}};
        return type == "DELETE" ? s.webhook(Stack::webhook_body(type, nullptr, rec))
                                : s.webhook(Stack::webhook_body(type, rec, nullptr));
    };

    int n = 0;
    for (const json& id : {json("007"), json("+7"), json(7)}) {
        SCOPED_TRACE(id.dump());
        s.sql("UPDATE public.articles SET title = 'Seven, take " + std::to_string(++n) +
              "' WHERE id = 7");
        auto r = send("UPDATE", id);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 202) << r->body;
        ASSERT_TRUE(fence()) << "the list keeps row 7";
        EXPECT_EQ(s.cache_get("/articles/7"), s.expected_row("7")) << "read by value";
    }
    // Not an integer: it names no row, and changes nothing.
    auto r = send("UPDATE", "7.0");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 202) << r->body;
    ASSERT_TRUE(fence()) << "the list keeps row 7";
    EXPECT_EQ(s.cache_get("/articles/7"), s.expected_row("7"));
    // Refused at the door.
    r = send("UPDATE", " 7");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 422);
    EXPECT_NE(r->body.find("invalid_id"), std::string::npos) << r->body;
    EXPECT_NE(r->body.find("whitespace"), std::string::npos) << r->body;

    // A delete in another spelling removes row 7 too.
    s.sql("DELETE FROM public.articles WHERE id = 7");
    r = send("DELETE", "007");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 202) << r->body;
    ASSERT_TRUE(fence()) << "the list lost row 7";
    EXPECT_FALSE(s.cache_get("/articles/7").has_value());
    for (const char* key : {"/articles/007", "/articles/+7", "/articles/7.0"}) {
        EXPECT_FALSE(s.cache_get(key).has_value()) << key;
    }
    if (HasFailure()) std::cerr << s.diagnostics() << "\n";
}
