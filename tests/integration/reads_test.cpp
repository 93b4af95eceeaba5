// The read API on the real binaries (docs/read-api.md): GET and HEAD of {prefix} and
// {prefix}/{id} from a real Memcached the real worker filled, ETag and 304, a miss the worker
// fills, a miss that is never a wrong 404, a deleted row that is never served stale, bad reads,
// the read secret, a chunked list read while the worker rewrites it, gzip, and misses answered
// from Postgres (404 exactly when the row does not exist).
#include <gtest/gtest.h>

#include <zlib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "cache/list_version.hpp"
#include "stack.hpp"

using namespace revalidator::testing;
using namespace std::chrono_literals;
using nlohmann::json;
using revalidator::list_version;
using revalidator::version_key;

namespace {

httplib::Result read(Stack& s, const std::string& path, httplib::Headers headers = {},
                     const std::string& method = "GET") {
    httplib::Client c("127.0.0.1", s.ingress_port());
    c.set_read_timeout(10, 0);
    if (method == "HEAD") return c.Head(path.c_str(), headers);
    if (method == "POST") return c.Post(path.c_str(), headers, "{}", "application/json");
    if (method == "PUT") return c.Put(path.c_str(), headers, "{}", "application/json");
    return c.Get(path.c_str(), headers);
}

// Polls GET `path` until it answers `status`, within `timeout`.
bool reads_as(Stack& s, const std::string& path, int status,
              std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto r = read(s, path);
        if (r && r->status == status) return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

// A row inserted, announced, read, deleted and announced again, once the worker applied the
// DELETE: the id of a row that was served and no longer exists.
std::string served_then_deleted(Stack& s) {
    const std::string id =
        *s.sql("INSERT INTO public.articles (title) VALUES ('Doomed') RETURNING id");
    EXPECT_EQ(s.webhook(s.webhook_for("INSERT", id))->status, 202);
    EXPECT_TRUE(reads_as(s, "/articles/" + id, 200));
    const std::string body = s.webhook_for("DELETE", id);
    s.sql("DELETE FROM public.articles WHERE id = " + id);
    EXPECT_EQ(s.webhook(body)->status, 202);
    EXPECT_TRUE(s.converges(id));
    return id;
}

}  // namespace

struct ReadsStack {
    // No anti-entropy pass: a row no webhook announced must reach the cache through a read's
    // fill request alone.
    static StackOptions get() { return {.worker_args = {"--verify-rate", "0"}}; }
};
class Reads : public SharedStack<ReadsStack> {};

TEST_F(Reads, RowsAndTheListAreServedAsTheCacheHoldsThem) {
    ASSERT_TRUE(stack->list_converges());
    auto row = read(*stack, "/articles/1");
    ASSERT_TRUE(row);
    EXPECT_EQ(row->status, 200);
    EXPECT_EQ(row->body, stack->cache_get("/articles/1").value_or("(absent)"));
    EXPECT_EQ(row->get_header_value("Content-Type"), "application/json");
    EXPECT_EQ(row->get_header_value("Cache-Control"), "public, no-cache");
    const auto etag = row->get_header_value("ETag");
    EXPECT_EQ(etag.size(), 34u) << etag;

    auto list = read(*stack, "/articles");
    ASSERT_TRUE(list);
    EXPECT_EQ(list->status, 200);
    EXPECT_EQ(list->body, stack->cache_list().value_or("(absent)"));

    auto again = read(*stack, "/articles/1", {{"If-None-Match", etag}});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 304);
    EXPECT_TRUE(again->body.empty());
    EXPECT_EQ(again->get_header_value("ETag"), etag);

    auto head = read(*stack, "/articles/1", {}, "HEAD");
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
    EXPECT_TRUE(head->body.empty());
    EXPECT_EQ(head->get_header_value("Content-Length"), std::to_string(row->body.size()));
    EXPECT_EQ(head->get_header_value("ETag"), etag);
}

TEST_F(Reads, AnUpdateChangesTheTagAndTheAnswer) {
    ASSERT_TRUE(stack->converges("2"));
    const auto before = read(*stack, "/articles/2")->get_header_value("ETag");
    stack->sql("UPDATE public.articles SET title = 'Read me', version = version + 1 WHERE id = 2");
    ASSERT_EQ(stack->webhook(stack->webhook_for("UPDATE", "2"))->status, 202);
    ASSERT_TRUE(stack->converges("2"));
    auto after = read(*stack, "/articles/2", {{"If-None-Match", before}});
    ASSERT_TRUE(after);
    EXPECT_EQ(after->status, 200);
    EXPECT_NE(after->body.find("Read me"), std::string::npos);
    EXPECT_NE(after->get_header_value("ETag"), before);
}

TEST_F(Reads, AMissOnAnExistingRowIsFilledByTheWorker) {
    // A row the webhook never announced: only the read's fill request can bring it.
    const std::string id =
        *stack->sql("INSERT INTO public.articles (title) VALUES ('Unannounced') RETURNING id");
    ASSERT_FALSE(stack->cache_get("/articles/" + id));
    ASSERT_TRUE(reads_as(*stack, "/articles/" + id, 200));
    auto r = read(*stack, "/articles/" + id);
    EXPECT_EQ(r->body, stack->expected_row(id).value_or("(absent)"));
    EXPECT_EQ(stack->cache_get("/articles/" + id), stack->expected_row(id));
    EXPECT_GE(
        stack->ingress_metric(R"(revalidator_ingress_read_fills_total{collection="articles"})"), 1);
}

// Without --read-postgres-url: a miss is never a 404 on the cache's word alone, but the worker,
// asked to fill a row Postgres does not have, marks it absent, and then it is a 404
// (docs/read-api.md, "Rows that do not exist"). An INSERT of that id takes the marker away before
// the row is written.
TEST_F(Reads, ARowThatNeverExistedIs404OnceTheWorkerLookedAndServedOnceInserted) {
    const std::string id = "987654321";
    const std::string path = "/articles/" + id;
    auto first = read(*stack, path);
    ASSERT_TRUE(first);
    if (first->status == 503) {
        EXPECT_EQ(first->get_header_value("Retry-After"), "1");
        EXPECT_EQ(json::parse(first->body)["error"], "not_cached");
    } else {
        EXPECT_EQ(first->status, 404) << "the worker's fill answered within the wait";
    }
    ASSERT_TRUE(reads_as(*stack, path, 404));
    EXPECT_EQ(json::parse(read(*stack, path)->body)["error"], "not_found");
    EXPECT_EQ(stack->cache_get("/articles:absent/" + id), "absent");
    EXPECT_FALSE(stack->cache_get(path)) << "the row key stays absent";
    const double fills =
        stack->ingress_metric(R"(revalidator_ingress_read_fills_total{collection="articles"})");
    ASSERT_EQ(read(*stack, path)->status, 404);
    EXPECT_EQ(
        stack->ingress_metric(R"(revalidator_ingress_read_fills_total{collection="articles"})"),
        fills)
        << "a marked row asks the worker nothing";

    stack->sql("INSERT INTO public.articles (id, title) VALUES (" + id + ", 'Late')");
    ASSERT_EQ(stack->webhook(stack->webhook_for("INSERT", id))->status, 202);
    ASSERT_TRUE(reads_as(*stack, path, 200));
    EXPECT_EQ(read(*stack, path)->body, stack->expected_row(id).value_or("(absent)"));
    EXPECT_FALSE(stack->cache_get("/articles:absent/" + id)) << "the INSERT took the marker away";
    stack->sql("DELETE FROM public.articles WHERE id = " + id);
    ASSERT_EQ(stack->webhook(stack->webhook_for("DELETE", id))->status, 202);
    EXPECT_TRUE(stack->converges(id));
}

TEST_F(Reads, ADeletedRowIsNeverServedStale) {
    const std::string id = served_then_deleted(*stack);
    ASSERT_FALSE(HasFailure());
    auto r = read(*stack, "/articles/" + id);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404) << "the DELETE left an absent marker";
}

TEST_F(Reads, BadReadsGetClearAnswers) {
    auto bad_id = read(*stack, "/articles/a%20b");
    ASSERT_TRUE(bad_id);
    EXPECT_EQ(bad_id->status, 404);
    EXPECT_EQ(json::parse(bad_id->body)["error"], "not_found");
    EXPECT_NE(json::parse(bad_id->body)["detail"].get<std::string>().find("whitespace"),
              std::string::npos);

    for (const auto& [method, path] : {std::pair{"POST", "/articles"}, {"PUT", "/articles/1"}}) {
        auto r = read(*stack, path, {}, method);
        ASSERT_TRUE(r) << method << " " << path;
        EXPECT_EQ(r->status, 405) << method << " " << path;
        EXPECT_EQ(r->get_header_value("Allow"), "GET, HEAD");
        EXPECT_EQ(json::parse(r->body)["error"], "method_not_allowed");
    }
    auto unknown = read(*stack, "/authors/1");
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->status, 404);
}

TEST(ReadSecret, ReadsNeedTheReadSecretAndNoOtherCredentialCrossesOver) {
    Stack s({.ingress_args = {"--read-secret", "read-only-secret"}});
    ASSERT_TRUE(s.list_converges());
    auto anonymous = read(s, "/articles/1");
    ASSERT_TRUE(anonymous);
    EXPECT_EQ(anonymous->status, 401);
    EXPECT_EQ(anonymous->get_header_value("WWW-Authenticate"), "Bearer realm=\"reads\"");
    auto webhook_secret =
        read(s, "/articles/1", {{"Authorization", std::string("Bearer ") + kSecret}});
    EXPECT_EQ(webhook_secret->status, 401) << "the webhook secret never grants reads";
    auto reader = read(s, "/articles/1", {{"Authorization", "Bearer read-only-secret"}});
    EXPECT_EQ(reader->status, 200);

    httplib::Client c("127.0.0.1", s.ingress_port());
    auto write = c.Post("/revalidate", {{"Authorization", "Bearer read-only-secret"}},
                        s.webhook_for("UPDATE", "1"), "application/json");
    ASSERT_TRUE(write);
    EXPECT_EQ(write->status, 401) << "the read secret never grants webhooks";
}

TEST(ChunkedReads, AListInPartsIsNeverReadTornWhileTheWorkerRewritesIt) {
    Stack s({.worker_args = {"--max-item-bytes", "1024"},
             .setup_sql = {"INSERT INTO public.articles (title, body) SELECT 'Row ' || g, "
                           "repeat('b', 200) FROM generate_series(1, 20) g"}});
    ASSERT_TRUE(s.list_converges());
    ASSERT_EQ(s.cache_get("/articles").value_or(" ").front(), '{') << "the list is in parts";
    std::atomic<bool> done{false};
    std::atomic<int> whole{0}, torn{0};
    std::thread reader([&] {
        while (!done) {
            auto r = read(s, "/articles");
            if (!r || r->status != 200) continue;
            auto list = json::parse(r->body, nullptr, false);
            bool ok = list.is_array() && !list.empty();
            for (std::size_t i = 1; ok && i < list.size(); ++i) {
                ok = list[i - 1]["id"].get<long>() < list[i]["id"].get<long>();
            }
            ++(ok ? whole : torn);
        }
    });
    for (int i = 0; i < 20; ++i) {
        s.sql("UPDATE public.articles SET version = version + 1, title = repeat('t', " +
              std::to_string(10 + 5 * i) + ")");
        for (const auto& id : s.sql_column("SELECT id FROM public.articles")) {
            ASSERT_EQ(s.webhook(s.webhook_for("UPDATE", id))->status, 202);
        }
    }
    ASSERT_TRUE(s.list_converges());
    done = true;
    reader.join();
    EXPECT_EQ(torn, 0);
    EXPECT_GT(whole, 0);
    auto last = read(s, "/articles");
    ASSERT_TRUE(last);
    EXPECT_EQ(last->status, 200);
    EXPECT_EQ(last->body, s.expected_list());
}

namespace {

std::string gunzip(const std::string& gz) {
    z_stream z{};
    if (inflateInit2(&z, 15 + 16) != Z_OK) return "(inflateInit2 failed)";
    std::string out(64 << 20, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
    z.avail_in = static_cast<uInt>(gz.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&z, Z_FINISH);
    out.resize(z.total_out);
    inflateEnd(&z);
    return rc == Z_STREAM_END ? out : "(not a whole gzip member)";
}

}  // namespace

// More versions of the list than the list store holds, read plain and gzip after each change:
// every answer is the bytes Memcached holds, the version beside the list names them, and the
// store never holds more than its bound.
TEST(ListStoreReads, VersionsPastTheBoundAreEachTheCachesBytes) {
    constexpr int kBound = 16 << 10;
    Stack s({.worker_args = {"--max-item-bytes", "4096"},
             .ingress_args = {"--read-list-store-bytes", std::to_string(kBound)},
             .setup_sql = {"INSERT INTO public.articles (title, body) SELECT 'Row ' || g, "
                           "repeat('b', 200) FROM generate_series(1, 20) g"}});
    ASSERT_TRUE(s.list_converges());
    ASSERT_EQ(s.cache_get("/articles").value_or(" ").front(), '{') << "the list is in parts";
    for (int v = 0; v < 12; ++v) {
        s.sql("UPDATE public.articles SET version = version + 1, title = 'v" + std::to_string(v) +
              "' WHERE id = " + std::to_string(1 + v % 20));
        ASSERT_EQ(s.webhook(s.webhook_for("UPDATE", std::to_string(1 + v % 20)))->status, 202);
        ASSERT_TRUE(s.list_converges()) << v;
        // The version is written just after the head: the list can converge between the two.
        std::string head;
        EXPECT_TRUE(eventually([&] {
            head = s.cache_get("/articles").value_or("(absent)");
            return s.cache_get(version_key("/articles")) == list_version(head);
        })) << v;
        const std::string list = s.cache_list().value_or("(absent)");
        auto plain = read(s, "/articles");
        ASSERT_TRUE(plain);
        EXPECT_EQ(plain->body, list) << v;
        EXPECT_EQ(plain->get_header_value("ETag"), "\"" + list_version(head) + "\"");
        auto gz = raw_http(s.ingress_port(),
                           "GET /articles HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n"
                           "Connection: close\r\n\r\n");
        EXPECT_EQ(gunzip(gz.body), list) << v;
        EXPECT_LE(s.ingress_metric("revalidator_ingress_list_store_bytes"), kBound) << v;
    }
    EXPECT_GT(s.ingress_metric("revalidator_ingress_list_store_evictions_total"), 0)
        << "more versions passed than fit";
}

TEST_F(Reads, GzipWhenTheClientAcceptsItUnderATagOfItsOwn) {
    ASSERT_TRUE(stack->list_converges());
    const std::string list = stack->cache_list().value_or("(absent)");
    // A raw socket: httplib's client would decode the body and hide what the server sent.
    auto gz = raw_http(stack->ingress_port(),
                       "GET /articles HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br, gzip\r\n"
                       "Connection: close\r\n\r\n");
    ASSERT_EQ(gz.status, 200);
    EXPECT_EQ(gunzip(gz.body), list);
    EXPECT_LT(gz.body.size(), list.size());

    auto plain = read(*stack, "/articles", {{"Accept-Encoding", "br"}});
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->status, 200);
    EXPECT_FALSE(plain->has_header("Content-Encoding")) << "only gzip is made, never br";
    EXPECT_EQ(plain->body, list);
    EXPECT_EQ(plain->get_header_value("Vary"), "Accept-Encoding");
    const auto tag = plain->get_header_value("ETag");

    httplib::Client c("127.0.0.1", stack->ingress_port());
    c.set_decompress(false);
    auto zipped = c.Get("/articles", {{"Accept-Encoding", "gzip"}});
    ASSERT_TRUE(zipped);
    EXPECT_EQ(zipped->get_header_value("Content-Encoding"), "gzip");
    EXPECT_EQ(zipped->get_header_value("Vary"), "Accept-Encoding");
    const auto gz_tag = zipped->get_header_value("ETag");
    EXPECT_EQ(gz_tag, tag.substr(0, tag.size() - 1) + "-gz\"");
    auto again = c.Get("/articles", {{"Accept-Encoding", "gzip"}, {"If-None-Match", gz_tag}});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 304);
    EXPECT_EQ(again->get_header_value("ETag"), gz_tag);
    auto identity = c.Get("/articles", {{"If-None-Match", gz_tag}});
    ASSERT_TRUE(identity);
    EXPECT_EQ(identity->status, 200) << "the gzip tag never revalidates the identity bytes";
}

struct ReadsFromPostgresStack {
    static StackOptions get() { return {.reads_from_postgres = true}; }
};
class ReadsFromPostgres : public SharedStack<ReadsFromPostgresStack> {};

TEST_F(ReadsFromPostgres, AMissOnAnExistingRowIsAnsweredAtOnceAndTheWorkerFillsIt) {
    const std::string id =
        *stack->sql("INSERT INTO public.articles (title) VALUES ('Unannounced') RETURNING id");
    ASSERT_FALSE(stack->cache_get("/articles/" + id));
    auto r = read(*stack, "/articles/" + id);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->body, stack->expected_row(id).value_or("(absent)"))
        << "the bytes the worker renders";
    ASSERT_TRUE(stack->converges(id)) << "the worker filled the row";
    auto hit = read(*stack, "/articles/" + id);
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->get_header_value("ETag"), r->get_header_value("ETag"));
    EXPECT_GE(
        stack->ingress_metric(
            R"(revalidator_ingress_reads_total{collection="articles",route="row",result="database"})"),
        1);
}

TEST_F(ReadsFromPostgres, A404IsOnlyForRowsPostgresDoesNotHave) {
    ASSERT_TRUE(stack->converges("1"));
    // No such row; an id the key's type cannot hold; another spelling of row 1's key; a number
    // past bigint: all answered at once, none a row.
    for (const std::string id : {"987654321", "abc", "0001", "99999999999999999999999"}) {
        auto r = read(*stack, "/articles/" + id);
        ASSERT_TRUE(r) << id;
        EXPECT_EQ(r->status, 404) << id << ": " << r->body;
        EXPECT_EQ(json::parse(r->body)["error"], "not_found") << id;
    }
    EXPECT_EQ(read(*stack, "/articles/1")->status, 200);
}

TEST_F(ReadsFromPostgres, ADeletedRowIs404OnceItsDeleteIsApplied) {
    const std::string id = served_then_deleted(*stack);
    ASSERT_FALSE(HasFailure());
    auto r = read(*stack, "/articles/" + id);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
}

TEST(ReadsFromFrozenPostgres, AFrozenDatabaseCostsABoundedWaitAndIsNeverA404) {
    Stack s({.reads_from_postgres = true});
    // A first miss leaves a connection in the read pool: the frozen read below goes through it,
    // so the bound under test is the query's, not the connect's.
    const std::string seen =
        *s.sql("INSERT INTO public.articles (title) VALUES ('a') RETURNING id");
    ASSERT_EQ(read(s, "/articles/" + seen)->status, 200);
    const std::string id =
        *s.sql("INSERT INTO public.articles (title) VALUES ('Behind a frozen DB') RETURNING id");
    s.postgres().freeze();
    auto r = read(s, "/articles/" + id);  // the client gives up after 10 s: a hung read fails
    s.postgres().thaw();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503) << r->body;
    EXPECT_EQ(r->get_header_value("Retry-After"), "1");
    EXPECT_EQ(json::parse(r->body)["error"], "not_cached");
    EXPECT_GE(
        s.ingress_metric(
            R"(revalidator_ingress_read_db_errors_total{collection="articles",reason="unavailable"})"),
        1);
    ASSERT_TRUE(reads_as(s, "/articles/" + id, 200)) << "reads recover once it thaws";
}

// A cold cache: Memcached restarted empty while 16 readers read rows that exist,
// rows that do not, and the list. Nothing changes in Postgres meanwhile, so every 200 must be
// exactly the row (or list) Postgres holds, every 404 a row that does not exist, and every other
// answer a 503 with Retry-After. Bounded: 3 s or 1,500 reads per reader.
TEST(ColdCacheReads, AStormOnARestartedCacheGetsOnlyRightAnswers) {
    Stack s({.reads_from_postgres = true,
             .setup_sql = {"INSERT INTO public.articles (title, body) SELECT 'Row ' || g, "
                           "repeat('b', 100) FROM generate_series(1, 195) g"}});
    ASSERT_TRUE(s.list_converges());
    std::map<std::string, std::string> rows;
    for (const auto& id : s.sql_column("SELECT id FROM public.articles")) {
        rows[id] = s.expected_row(id).value_or("");
    }
    ASSERT_EQ(rows.size(), 200u);
    const std::string list = s.expected_list();
    s.memcached().stop();
    s.memcached().start();

    constexpr int kReaders = 16;
    std::atomic<int> ok{0}, not_found{0}, unavailable{0}, wrong{0};
    std::mutex examples_mu;
    std::vector<std::string> examples;
    auto bad = [&](const std::string& what) {
        ++wrong;
        std::lock_guard lock(examples_mu);
        if (examples.size() < 5) examples.push_back(what);
    };
    const auto until = std::chrono::steady_clock::now() + 3s;
    std::vector<std::thread> readers;
    for (int t = 0; t < kReaders; ++t) {
        readers.emplace_back([&, t] {
            httplib::Client c("127.0.0.1", s.ingress_port());
            c.set_read_timeout(10, 0);
            for (int i = 0; i < 1500 && std::chrono::steady_clock::now() < until; ++i) {
                const int pick = (t * 7919 + i * 104729) % 260;  // 200 rows, 50 absent, the list
                const bool is_list = pick >= 250;
                const std::string id = std::to_string(pick < 200 ? pick + 1 : 100000 + pick);
                const std::string path = is_list ? "/articles" : "/articles/" + id;
                auto r = c.Get(path.c_str());
                if (!r) {
                    bad(path + ": no answer");
                    continue;
                }
                const auto it = rows.find(id);
                if (r->status == 200) {
                    const bool right =
                        is_list ? r->body == list : it != rows.end() && r->body == it->second;
                    right ? ++ok : (bad(path + ": 200 with other bytes"), 0);
                } else if (r->status == 404) {
                    !is_list&& it == rows.end() ? ++not_found : (bad(path + ": wrong 404"), 0);
                } else if (r->status == 503 && r->get_header_value("Retry-After") == "1") {
                    ++unavailable;
                } else {
                    bad(path + ": " + std::to_string(r->status) + " " + r->body);
                }
            }
        });
    }
    for (auto& t : readers) t.join();
    std::cout
        << "[ figures  ] cold cache, " << kReaders << " readers for 3 s: " << ok << " ok, "
        << not_found << " 404, " << unavailable << " 503; "
        << s.ingress_metric(R"(revalidator_ingress_read_db_queries_total{collection="articles"})")
        << " Postgres queries, "
        << s.ingress_metric(R"(revalidator_ingress_read_db_shared_total{collection="articles"})")
        << " misses shared one\n";
    EXPECT_EQ(wrong, 0) << (examples.empty() ? "" : examples.front());
    EXPECT_GT(ok, 0);
    EXPECT_GT(not_found, 0);
    ASSERT_TRUE(s.list_converges()) << "the worker's resync refills the cache";
    for (const auto& [id, row] : rows) EXPECT_EQ(s.cache_get("/articles/" + id), row) << id;
}
