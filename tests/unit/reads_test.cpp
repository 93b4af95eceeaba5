// The read API's logic against a fake cache: hits, 304s, ids that cannot be keys, what a miss
// does (one fill asked of the worker, a bounded wait, 503), chunked lists read whole or not at
// all, hostile manifests, and the batch prefetch. The HTTP mapping, the real Memcached and the
// worker are the integration tests' (tests/integration/reads_test.cpp).
#include "reads/reads.hpp"

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <zlib.h>

#include "cache/list_version.hpp"
#include "cache/manifest.hpp"
#include "reads/etag.hpp"
#include "reads/gzip.hpp"

namespace revalidator::ingress {
namespace {

using namespace std::chrono_literals;

class FakeCache final : public CacheReads {
  public:
    std::mutex mu;
    std::map<std::string, std::string> store;
    std::string failure;  // when set, every call fails with it
    // Keys on a server that is down: get() and get_many() fail, and hits() leaves them out as if
    // absent, as one libmemcached multi-get does.
    std::set<std::string> unreachable;
    int gets = 0;
    int many = 0;
    int batches = 0;  // hits()
    std::vector<std::string> asked_keys;
    std::function<void(FakeCache&)> after_get;  // runs after each get, under no lock

    Result<std::optional<std::string>, std::string> get(const std::string& key) override {
        std::optional<std::string> out;
        {
            std::lock_guard lock(mu);
            ++gets;
            asked_keys.push_back(key);
            if (!failure.empty()) return Err(failure);
            if (unreachable.count(key)) return Err(std::string("memcached: connection refused"));
            if (auto it = store.find(key); it != store.end()) out = it->second;
        }
        if (after_get) after_get(*this);
        return out;
    }
    Result<std::unordered_map<std::string, std::string>, std::string> get_many(
        const std::vector<std::string>& keys) override {
        std::lock_guard lock(mu);
        ++many;
        if (!failure.empty()) return Err(failure);
        std::unordered_map<std::string, std::string> out;
        for (const auto& k : keys) {
            if (unreachable.count(k)) return Err(std::string("memcached: connection refused"));
            if (auto it = store.find(k); it != store.end()) out.emplace(k, it->second);
        }
        return out;
    }
    std::unordered_map<std::string, std::string> hits(
        const std::vector<std::string>& keys) override {
        std::lock_guard lock(mu);
        ++batches;
        std::unordered_map<std::string, std::string> out;
        if (!failure.empty()) return out;
        for (const auto& k : keys) {
            if (unreachable.count(k)) continue;
            if (auto it = store.find(k); it != store.end()) out.emplace(k, it->second);
        }
        return out;
    }
    void put(const std::string& k, const std::string& v) {
        std::lock_guard lock(mu);
        store[k] = v;
    }
};

// Postgres as the read routes see it: rows by id; `gate`, when set, holds every query until it
// opens, so that concurrent misses can be made to overlap.
class FakeDatabase final : public DatabaseReads {
  public:
    std::mutex mu;
    std::map<std::string, std::string> rows;
    std::optional<DatabaseError> failure;
    std::atomic<int> queries{0};
    std::shared_future<void> gate;

    Result<std::optional<std::string>, DatabaseError> row(const std::string& id) override {
        ++queries;
        if (gate.valid()) gate.wait();
        std::lock_guard lock(mu);
        if (failure) return Err{*failure};
        if (auto it = rows.find(id); it != rows.end())
            return std::optional<std::string>(it->second);
        return std::optional<std::string>{};
    }
};

struct Fixture {
    explicit Fixture(bool with_database = false,
                     std::chrono::milliseconds fill_wait = std::chrono::milliseconds(60))
        : reads(
              {.prefix = "/articles", .fill_wait = fill_wait, .poll_every = 2ms}, cache, lists,
              with_database ? &database : nullptr,
              [this](const std::string& id) {
                  {
                      std::lock_guard lock(fills_mu);
                      fills.push_back(id);
                  }
                  if (on_fill) on_fill(id);
                  return accept_fills;
              },
              registry) {}

    FakeCache cache;
    FakeDatabase database;
    metrics::Registry registry;
    ListStore lists{std::size_t{64} << 20, registry};
    std::mutex fills_mu;
    std::vector<std::string> fills;
    bool accept_fills = true;
    std::function<void(const std::string&)> on_fill;
    Reads reads;

    std::string metrics() const { return registry.render(); }
};

// A 200's body as text ("" when there is none).
std::string text(const ReadAnswer& a) {
    return a.body ? *a.body : std::string();
}

bool has_line(const std::string& text, const std::string& line) {
    return text.find(line + "\n") != std::string::npos;
}

TEST(Reads, RowHitAnswersTheCachedBytesWithTheirTag) {
    Fixture f;
    f.cache.put("/articles/7", R"({"id": 7, "title": "x"})");
    auto a = f.reads.row("7", {""});
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(text(a), R"({"id": 7, "title": "x"})");
    EXPECT_EQ(a.etag, etag_of(R"({"id": 7, "title": "x"})"));
    EXPECT_TRUE(f.fills.empty());
    EXPECT_TRUE(
        has_line(f.metrics(), R"(revalidator_ingress_reads_total{route="row",result="hit"} 1)"));
}

TEST(Reads, MatchingIfNoneMatchGets304WithoutABody) {
    Fixture f;
    f.cache.put("/articles/7", "{\"id\": 7}");
    const auto tag = etag_of("{\"id\": 7}");
    for (const std::string& inm : {tag, "W/" + tag, "\"other\", " + tag, std::string("*")}) {
        auto a = f.reads.row("7", {inm});
        EXPECT_EQ(a.status, 304) << inm;
        EXPECT_FALSE(a.body);
        EXPECT_EQ(a.etag, tag);
    }
    EXPECT_EQ(f.reads.row("7", {"\"other\""}).status, 200);
    f.cache.put("/articles/7", "{\"id\": 7, \"v\": 2}");
    EXPECT_EQ(f.reads.row("7", {tag}).status, 200) << "a changed value has a new tag";
}

TEST(Reads, AnIdThatCannotBeAKeyIs404AndNeverReachesTheCacheOrTheWorker) {
    Fixture f;
    for (const std::string& id : {std::string("a b"), std::string("7\r\nflush_all"),
                                  std::string(300, 'x'), std::string("\xff\xfe")}) {
        auto a = f.reads.row(id, {""});
        EXPECT_EQ(a.status, 404);
        EXPECT_EQ(a.error, "not_found");
        EXPECT_NE(a.detail.find("no row can have the id"), std::string::npos) << a.detail;
    }
    EXPECT_EQ(f.cache.gets, 0);
    EXPECT_TRUE(f.fills.empty());
}

TEST(Reads, AMissAsksTheWorkerAndAnswersOnceTheFillArrives) {
    Fixture f;
    f.on_fill = [&](const std::string& id) { f.cache.put("/articles/" + id, "{\"id\": 9}"); };
    auto a = f.reads.row("9", {""});
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(text(a), "{\"id\": 9}");
    EXPECT_EQ(f.fills, std::vector<std::string>{"9"});
    const auto m = f.metrics();
    EXPECT_TRUE(has_line(m, R"(revalidator_ingress_reads_total{route="row",result="filled"} 1)"));
    EXPECT_TRUE(has_line(m, "revalidator_ingress_read_fills_total 1"));
}

TEST(Reads, AMissThatIsNotFilledIs503NeverA404) {
    Fixture f;
    auto a = f.reads.row("9", {""});
    EXPECT_EQ(a.status, 503);
    EXPECT_EQ(a.error, "not_cached");
    EXPECT_GT(f.cache.gets, 1) << "it looked again while it waited";
    EXPECT_EQ(f.fills, std::vector<std::string>{"9"});
    EXPECT_TRUE(has_line(f.metrics(),
                         R"(revalidator_ingress_reads_total{route="row",result="not_cached"} 1)"));
}

// At most one fill per row per fill_wait: the misses must all fall in one window, so they start
// together and the window is long (a sanitizer build can start threads 60 ms apart).
TEST(Reads, ConcurrentMissesOfOneRowAskTheWorkerOnce) {
    Fixture f(false, std::chrono::milliseconds(1000));
    std::atomic<int> answered{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> readers;
    for (int i = 0; i < 8; ++i) {
        readers.emplace_back([&] {
            while (!go) std::this_thread::yield();
            if (f.reads.row("5", {""}).status == 503) ++answered;
        });
    }
    go = true;
    for (auto& t : readers) t.join();
    EXPECT_EQ(answered, 8);
    EXPECT_EQ(f.fills, std::vector<std::string>{"5"});
}

TEST(Reads, AFillTheQueueRefusesIsCountedAndTheReadStill503s) {
    Fixture f;
    f.accept_fills = false;
    EXPECT_EQ(f.reads.row("9", {""}).status, 503);
    EXPECT_TRUE(has_line(f.metrics(), "revalidator_ingress_read_fills_refused_total 1"));
}

TEST(Reads, AnUnreachableCacheIs503NamingWhy) {
    Fixture f;
    f.cache.failure = "memcached: timed out";
    for (auto a : {f.reads.row("1", {""}), f.reads.list({""})}) {
        EXPECT_EQ(a.status, 503);
        EXPECT_EQ(a.error, "cache_unavailable");
        EXPECT_NE(a.detail.find("timed out"), std::string::npos);
    }
    EXPECT_TRUE(f.fills.empty()) << "an unreachable cache is not a miss";
}

TEST(Reads, AListInOneItemIsAnsweredAsStored) {
    Fixture f;
    f.cache.put("/articles", R"([{"id": 1}, {"id": 2}])");
    auto a = f.reads.list({""});
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(text(a), R"([{"id": 1}, {"id": 2}])");
    EXPECT_EQ(f.reads.list({a.etag}).status, 304);
}

TEST(Reads, AMissingListIs503AtOnce) {
    Fixture f;
    auto a = f.reads.list({""});
    EXPECT_EQ(a.status, 503);
    EXPECT_EQ(a.error, "not_cached");
    EXPECT_EQ(f.cache.gets, 2) << "the version, then the head";
}

TEST(Reads, AChunkedListIsReassembledFromItsParts) {
    Fixture f;
    const std::string head = manifest::encode(14, {"/articles:part:5:0", "/articles:part:5:1"});
    f.cache.put("/articles", head);
    f.cache.put("/articles:part:5:0", R"([{"id": 1}, )");
    f.cache.put("/articles:part:5:1", R"(2])");
    auto a = f.reads.list({""});
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(text(a), R"([{"id": 1}, 2])");
    EXPECT_EQ(a.etag, etag_of(head));
    const int many = f.cache.many;
    EXPECT_EQ(f.reads.list({a.etag}).status, 304);
    EXPECT_EQ(f.cache.many, many) << "a revalidation reads the head only";
}

TEST(Reads, AChunkedListReadThatRacesARewriteReadsTheNewHead) {
    Fixture f;
    f.cache.put("/articles", manifest::encode(3, {"/articles:part:1:0"}));  // part already gone
    f.cache.after_get = [](FakeCache& c) {
        c.after_get = nullptr;
        c.put("/articles", manifest::encode(3, {"/articles:part:2:0"}));
        c.put("/articles:part:2:0", "[1]");
    };
    auto a = f.reads.list({""});
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(text(a), "[1]");
}

TEST(Reads, AChunkedListWithAPartOnAServerThatIsDownIs503CacheUnavailable) {
    Fixture f;
    f.cache.put("/articles", manifest::encode(6, {"/articles:part:1:0", "/articles:part:1:1"}));
    f.cache.put("/articles:part:1:0", "[1, ");
    f.cache.put("/articles:part:1:1", "2]");
    f.cache.unreachable.insert("/articles:part:1:1");
    auto a = f.reads.list({""});
    EXPECT_EQ(a.status, 503);
    EXPECT_EQ(a.error, "cache_unavailable") << a.detail;
    EXPECT_EQ(f.cache.many, 1) << "an outage is not a rewrite: no second try";
    EXPECT_EQ(f.cache.gets, 2)
        << "the version and the head only: get_many tells an outage from a miss itself";
    f.cache.unreachable.clear();
    EXPECT_EQ(text(f.reads.list({""})), "[1, 2]");
}

TEST(Reads, AChunkedListThatNeverReadsWholeIs503NeverTorn) {
    for (const bool wrong_length : {false, true}) {
        Fixture f;
        f.cache.put("/articles", manifest::encode(wrong_length ? 99 : 6,
                                                  {"/articles:part:1:0", "/articles:part:1:1"}));
        f.cache.put("/articles:part:1:0", "[1, ");
        if (wrong_length) f.cache.put("/articles:part:1:1", "2]");
        auto a = f.reads.list({""});
        EXPECT_EQ(a.status, 503);
        EXPECT_EQ(a.error, "list_changing");
        EXPECT_FALSE(a.body);
        EXPECT_EQ(f.cache.many, 3);
    }
}

TEST(Reads, AHostileManifestIsNeverFollowed) {
    for (const std::string& head :
         {std::string(
              R"({"chunked":true,"bytes":3,"parts":["/articles:part:1:0","x\r\nflush_all"]})"),
          std::string(R"({"chunked":true,"parts":["/articles:part:1:0"]})"),
          std::string("{nope")}) {
        Fixture f;
        f.cache.put("/articles", head);
        auto a = f.reads.list({""});
        EXPECT_EQ(a.status, 503) << head;
        EXPECT_EQ(a.error, "list_unreadable");
        EXPECT_EQ(f.cache.many, 0) << "no part was asked for";
    }
}

TEST(Reads, WithADatabaseAMissOnAnExistingRowIsAnsweredFromItAndFilled) {
    Fixture f(true);
    f.database.rows["9"] = R"({"id": 9})";
    auto a = f.reads.row("9", {""});
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(text(a), R"({"id": 9})");
    EXPECT_EQ(a.etag, etag_of(R"({"id": 9})")) << "the tag the cached bytes will have";
    EXPECT_EQ(f.fills, std::vector<std::string>{"9"}) << "the worker fills the cache";
    EXPECT_EQ(f.cache.gets, 2) << "the row and its marker; answered without waiting for the fill";
    const auto m = f.metrics();
    EXPECT_TRUE(has_line(m, R"(revalidator_ingress_reads_total{route="row",result="database"} 1)"));
    EXPECT_TRUE(has_line(m, "revalidator_ingress_read_db_queries_total 1"));
}

TEST(Reads, WithADatabaseAMissOnARowThatDoesNotExistIs404AndAsksNoFill) {
    Fixture f(true);
    auto a = f.reads.row("9", {""});
    EXPECT_EQ(a.status, 404);
    EXPECT_EQ(a.error, "not_found");
    EXPECT_NE(a.detail.find("no row has the id '9'"), std::string::npos) << a.detail;
    EXPECT_TRUE(f.fills.empty());
}

TEST(Reads, AHitNeverAsksTheDatabase) {
    Fixture f(true);
    f.cache.put("/articles/9", R"({"id": 9, "v": 1})");
    f.database.rows["9"] = R"({"id": 9, "v": 2})";
    EXPECT_EQ(text(f.reads.row("9", {""})), R"({"id": 9, "v": 1})");
    EXPECT_EQ(f.database.queries, 0);
}

TEST(Reads, ADatabaseThatCannotAnswerIsNeverA404ButAWaitForTheFill) {
    for (auto kind : {DatabaseError::Kind::Busy, DatabaseError::Kind::Unavailable}) {
        Fixture f(true);
        f.database.failure = DatabaseError{kind, "down"};
        auto a = f.reads.row("9", {""});
        EXPECT_EQ(a.status, 503);
        EXPECT_EQ(a.error, "not_cached");
        EXPECT_EQ(f.fills, std::vector<std::string>{"9"});
        const std::string reason = kind == DatabaseError::Kind::Busy ? "busy" : "unavailable";
        EXPECT_TRUE(has_line(
            f.metrics(), "revalidator_ingress_read_db_errors_total{reason=\"" + reason + "\"} 1"));

        f.on_fill = [&](const std::string& id) { f.cache.put("/articles/" + id, "{}"); };
        EXPECT_EQ(f.reads.row("8", {""}).status, 200) << "the fill still answers";
    }
}

// The worker's absent marker (docs/cache-layout.md, "Absent rows"): a miss whose
// row it marks is a 404, without a database, and asks nothing more of the worker.
TEST(Reads, AMissTheWorkerMarkedAbsentIs404AndAsksNoFill) {
    Fixture f;
    f.cache.put("/articles:absent/999", "absent");
    auto a = f.reads.row("999", {""});
    EXPECT_EQ(a.status, 404);
    EXPECT_EQ(a.error, "not_found");
    EXPECT_TRUE(f.fills.empty());
    EXPECT_TRUE(has_line(f.metrics(),
                         R"(revalidator_ingress_reads_total{route="row",result="not_found"} 1)"));
}

TEST(Reads, AFillThatMarksTheRowAbsentAnswers404WithinTheWait) {
    Fixture f(false, 10s);
    f.on_fill = [&](const std::string& id) { f.cache.put("/articles:absent/" + id, "absent"); };
    auto a = f.reads.row("999", {""});
    EXPECT_EQ(a.status, 404);
    EXPECT_EQ(f.fills, std::vector<std::string>{"999"});
}

TEST(Reads, TheRowKeyWinsOverAMarkerAndAMarkerSavesTheDatabaseQuery) {
    Fixture f(true);
    f.cache.put("/articles/5", R"({"id": 5})");
    f.cache.put("/articles:absent/5", "absent");  // a reader may see both for a moment
    EXPECT_EQ(f.reads.row("5", {""}).status, 200);
    f.cache.put("/articles:absent/6", "absent");
    EXPECT_EQ(f.reads.row("6", {""}).status, 404);
    EXPECT_EQ(f.database.queries, 0);
}

TEST(Reads, AMarkerThatCannotBeReadIsNoAnswer) {
    Fixture f;
    f.cache.unreachable = {"/articles:absent/7"};
    auto a = f.reads.row("7", {""});
    EXPECT_EQ(a.status, 503);
    EXPECT_EQ(a.error, "not_cached");
}

// docs/cache-layout.md, "Several servers": a row on a cache server that is down is read from
// Postgres when a database is configured, counted, and asks no fill.
TEST(Reads, WithADatabaseARowWhoseCacheServerIsDownIsAnsweredFromPostgres) {
    Fixture f(true);
    f.cache.unreachable = {"/articles/9", "/articles/8"};
    f.database.rows["9"] = R"({"id": 9})";
    auto a = f.reads.row("9", {""});
    EXPECT_EQ(a.status, 200) << a.error << " " << a.detail;
    EXPECT_EQ(text(a), R"({"id": 9})");
    EXPECT_EQ(a.etag, etag_of(R"({"id": 9})"));
    auto absent = f.reads.row("8", {""});
    EXPECT_EQ(absent.status, 404) << "Postgres says no row has it";
    EXPECT_TRUE(f.fills.empty()) << "the worker cannot write that server either";
    const auto m = f.metrics();
    EXPECT_TRUE(has_line(m, "revalidator_ingress_read_cache_bypassed_total 2")) << m;
    EXPECT_TRUE(has_line(m, R"(revalidator_ingress_reads_total{route="row",result="database"} 1)"));

    f.database.failure = DatabaseError{DatabaseError::Kind::Unavailable, "down"};
    auto neither = f.reads.row("9", {""});
    EXPECT_EQ(neither.status, 503);
    EXPECT_EQ(neither.error, "cache_unavailable") << "neither could answer";
}

// A storm of misses on one row: the first reader's query, and one more that every reader who came
// while it ran shares (a query that started before them might predate their request).
TEST(Reads, ConcurrentMissesOfOneRowMakeTwoDatabaseQueriesAtMost) {
    Fixture f(true, 10s);
    f.database.rows["5"] = R"({"id": 5})";
    std::promise<void> open;
    f.database.gate = open.get_future().share();
    constexpr int kReaders = 16;
    std::atomic<int> ok{0};
    std::vector<std::thread> readers;
    for (int i = 0; i < kReaders; ++i) {
        readers.emplace_back([&] {
            if (f.reads.row("5", {""}).status == 200) ++ok;
        });
    }
    // The gate opens once the readers other than the two queries' makers wait to share the next.
    const auto shared = "revalidator_ingress_read_db_shared_total " + std::to_string(kReaders - 2);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!has_line(f.metrics(), shared) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
    }
    open.set_value();
    for (auto& t : readers) t.join();
    EXPECT_EQ(ok, kReaders);
    EXPECT_EQ(f.database.queries, 2);
    EXPECT_EQ(f.fills, std::vector<std::string>{"5"}) << "asked once per fill wait";
}

std::string gunzip(const std::string& gz) {
    z_stream z{};
    EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
    std::string out(1 << 20, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
    z.avail_in = static_cast<uInt>(gz.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
    out.resize(z.total_out);
    inflateEnd(&z);
    return out;
}

TEST(Reads, GzipIsTheSameBytesUnderATagOfItsOwn) {
    Fixture f;
    const std::string row(2000, 'r');
    f.cache.put("/articles/7", row);
    auto a = f.reads.row("7", {.if_none_match = "", .gzip = true});
    EXPECT_EQ(a.status, 200);
    EXPECT_TRUE(a.gzip);
    EXPECT_LT(text(a).size(), row.size());
    EXPECT_EQ(gunzip(text(a)), row);
    EXPECT_EQ(a.etag, gzip_etag(etag_of(row)));
    EXPECT_EQ(f.reads.row("7", {.if_none_match = a.etag, .gzip = true}).status, 304);
    EXPECT_EQ(f.reads.row("7", {.if_none_match = a.etag}).status, 200)
        << "the gzip tag does not revalidate the identity bytes";
    EXPECT_EQ(f.reads.row("7", {.if_none_match = etag_of(row), .gzip = true}).status, 200)
        << "nor the identity tag the gzip bytes";
}

// The list as the worker writes it: the head, then its version.
void put_list(FakeCache& cache, const std::string& key, const std::string& head) {
    cache.put(key, head);
    cache.put(version_key(key), list_version(head));
}

TEST(Reads, AListWhoseVersionIsKeptCostsOneSmallGet) {
    Fixture f;
    put_list(f.cache, "/articles", R"([{"id": 1}, {"id": 2}])");
    auto first = f.reads.list({""});
    ASSERT_EQ(first.status, 200);
    EXPECT_EQ(first.etag, etag_of(R"([{"id": 1}, {"id": 2}])"));

    f.cache.asked_keys.clear();
    auto again = f.reads.list({""});
    EXPECT_EQ(text(again), R"([{"id": 1}, {"id": 2}])");
    EXPECT_EQ(again.body, first.body) << "one copy, shared by both answers";
    auto gz = f.reads.list({.if_none_match = "", .gzip = true});
    EXPECT_EQ(gunzip(text(gz)), R"([{"id": 1}, {"id": 2}])");
    EXPECT_EQ(f.cache.asked_keys,
              (std::vector<std::string>{"/articles:version", "/articles:version"}))
        << "the head is not read again while its version is kept";
}

TEST(Reads, ARevalidationReadsTheVersionAlone) {
    Fixture f;
    const std::string head = manifest::encode(6, {"/articles:part:5:0", "/articles:part:5:1"});
    put_list(f.cache, "/articles", head);
    for (bool gzip : {false, true}) {
        const auto tag = gzip ? gzip_etag(etag_of(head)) : etag_of(head);
        f.cache.asked_keys.clear();
        auto a = f.reads.list({.if_none_match = tag, .gzip = gzip});
        EXPECT_EQ(a.status, 304);
        EXPECT_EQ(a.etag, tag);
        EXPECT_EQ(f.cache.asked_keys, std::vector<std::string>{"/articles:version"});
    }
    EXPECT_EQ(f.cache.many, 0) << "no part was read, nor kept";
    EXPECT_EQ(f.lists.versions(), 0u);
}

TEST(Reads, ABatchOfListReadsCostsOneGetOfTheVersion) {
    Fixture f;
    put_list(f.cache, "/articles", "[1]");
    std::vector<ListRead> batch(3);
    f.reads.lists(batch);
    EXPECT_FALSE(batch[0].answer || batch[1].answer || batch[2].answer)
        << "a version not kept yet is read alone, where one read assembles it";

    ASSERT_EQ(text(f.reads.list({""})), "[1]");
    f.cache.asked_keys.clear();
    const std::string tag = etag_of("[1]");
    std::vector<ListRead> again{
        {.c = {""}}, {.c = {.if_none_match = tag}}, {.c = {.if_none_match = "", .gzip = true}}};
    f.reads.lists(again);
    EXPECT_EQ(f.cache.asked_keys, std::vector<std::string>{"/articles:version"});
    ASSERT_TRUE(again[0].answer && again[1].answer && again[2].answer);
    EXPECT_EQ(text(*again[0].answer), "[1]");
    EXPECT_EQ(again[1].answer->status, 304);
    EXPECT_EQ(gunzip(text(*again[2].answer)), "[1]");

    f.cache.unreachable.insert(version_key("/articles"));
    std::vector<ListRead> down(1);
    f.reads.lists(down);
    EXPECT_FALSE(down[0].answer) << "read alone, where the head tells";
}

TEST(Reads, AHeadNewerThanItsVersionIsAnsweredAndKeptAsItself) {
    // The worker writes the head, then the version: a read between the two finds a version that
    // names the list before. The bytes kept must be labelled with their own digest.
    Fixture f;
    f.cache.put("/articles", "[2]");
    f.cache.put(version_key("/articles"), list_version("[1]"));
    auto a = f.reads.list({""});
    EXPECT_EQ(text(a), "[2]");
    EXPECT_EQ(a.etag, etag_of("[2]"));
    EXPECT_FALSE(f.lists.find("/articles", list_version("[1]"))) << "not kept as the old version";
    EXPECT_TRUE(f.lists.find("/articles", list_version("[2]")));
}

TEST(Reads, AVersionThatIsNoVersionIsPassedOverForTheHead) {
    Fixture f;
    f.cache.put("/articles", "[1]");
    for (const char* bad : {"", "x", "0123456789abcdef0123456789abcdeF",
                            "0123456789abcdef0123456789abcdef0", "/articles:part:1:0 junk"}) {
        f.cache.put(version_key("/articles"), bad);
        auto a = f.reads.list({""});
        EXPECT_EQ(text(a), "[1]") << bad;
        EXPECT_EQ(a.etag, etag_of("[1]")) << bad;
    }
}

TEST(Reads, AVersionOnAServerThatIsDownLeavesTheHeadToTell) {
    Fixture f;
    put_list(f.cache, "/articles", "[1]");
    f.cache.unreachable.insert(version_key("/articles"));
    EXPECT_EQ(text(f.reads.list({""})), "[1]");
    f.cache.unreachable.insert("/articles");
    EXPECT_EQ(f.reads.list({""}).error, "cache_unavailable");
}

TEST(Reads, TheStoreStaysWithinItsBoundAndAnswersWhatTheCacheHolds) {
    // More versions of two lists, one in one item and one chunked, than the store can hold, each
    // read plain and gzip: every answer is the cache's bytes, and the store never exceeds its
    // bound however many versions pass through it.
    FakeCache cache;
    metrics::Registry registry;
    constexpr std::size_t kBound = 16 << 10;
    ListStore lists(kBound, registry);
    auto no_fill = [](const std::string&) { return false; };
    Reads one({.prefix = "/articles"}, cache, lists, nullptr, no_fill, registry);
    Reads chunked({.prefix = "/articles/front"}, cache, lists, nullptr, no_fill, registry);
    std::size_t most = 0;
    for (int v = 0; v < 40; ++v) {
        std::string list = "[";
        for (int i = 0; i < 300 + v * 7; ++i) list += std::to_string(v * 1000 + i) + ", ";
        list += std::to_string(v) + "]";
        put_list(cache, "/articles", list);
        const std::string a = "/articles/front:part:" + std::to_string(v) + ":0";
        const std::string b = "/articles/front:part:" + std::to_string(v) + ":1";
        cache.put(a, list.substr(0, list.size() / 2));
        cache.put(b, list.substr(list.size() / 2));
        put_list(cache, "/articles/front", manifest::encode(list.size(), {a, b}));
        for (Reads* reads : {&one, &chunked}) {
            for (int round = 0; round < 2; ++round) {
                EXPECT_EQ(text(reads->list({""})), list) << v;
                EXPECT_EQ(gunzip(text(reads->list({.if_none_match = "", .gzip = true}))), list)
                    << v;
                most = std::max(most, lists.bytes());
            }
        }
    }
    EXPECT_LE(most, kBound);
    EXPECT_GT(lists.versions(), 0u);
    EXPECT_LT(lists.versions(), 80u) << "older versions went";
    EXPECT_TRUE(has_line(registry.render(),
                         "revalidator_ingress_list_store_bytes " + std::to_string(lists.bytes())));
}

TEST(Reads, TheLastListReadWholeIsReusedWhileItsManifestStays) {
    Fixture f;
    const std::string head = manifest::encode(6, {"/articles:part:5:0", "/articles:part:5:1"});
    f.cache.put("/articles", head);
    f.cache.put("/articles:part:5:0", "[1, ");
    f.cache.put("/articles:part:5:1", "2]");
    EXPECT_EQ(text(f.reads.list({""})), "[1, 2]");
    auto gz = f.reads.list({.if_none_match = "", .gzip = true});
    EXPECT_EQ(gunzip(text(gz)), "[1, 2]");
    EXPECT_EQ(f.cache.many, 1) << "the same manifest names the same parts";

    f.cache.put("/articles", manifest::encode(3, {"/articles:part:6:0"}));
    f.cache.put("/articles:part:6:0", "[3]");
    EXPECT_EQ(text(f.reads.list({""})), "[3]");
    EXPECT_EQ(f.cache.many, 2) << "a new manifest is read anew";
    f.cache.put("/articles", "[4]");
    EXPECT_EQ(text(f.reads.list({""})), "[4]") << "a list in one item is what the head holds";
}

TEST(Gzip, AcceptEncodingIsReadAsRfc9110Says) {
    for (std::string_view yes : {"gzip", "GZIP", "gzip, deflate, br", "br;q=1.0, gzip;q=0.5",
                                 "x-gzip", "*", "deflate, *;q=0.1", " gzip ;q=1"}) {
        EXPECT_TRUE(accepts_gzip(yes)) << yes;
    }
    for (std::string_view no : {"", "identity", "br, deflate", "gzip;q=0", "gzip;q=0.000",
                                "*, gzip;q=0", "*;q=0", "gzip;q=2", "gzip;q=abc", "gzipx"}) {
        EXPECT_FALSE(accepts_gzip(no)) << no;
    }
}

TEST(Gzip, RoundTripsAnyBytes) {
    for (const std::string& bytes : {std::string(), std::string("[]"), std::string(300000, 'x'),
                                     std::string("\0\xff\r\n", 4)}) {
        EXPECT_EQ(gunzip(gzip(bytes)), bytes);
    }
}

TEST(Etag, NoneMatchComparesWeaklyAndAcceptsLists) {
    const std::string tag = etag_of("x");
    EXPECT_EQ(tag.size(), 34u);
    EXPECT_EQ(tag.front(), '"');
    EXPECT_EQ(tag, etag_of("x"));
    EXPECT_NE(tag, etag_of("y"));
    EXPECT_TRUE(none_match_hits(tag, tag));
    EXPECT_TRUE(none_match_hits(" *  ", tag));
    EXPECT_TRUE(none_match_hits("\"a\",W/" + tag + " , \"b\"", tag));
    EXPECT_FALSE(none_match_hits("\"a\", \"b\"", tag));
    EXPECT_FALSE(none_match_hits(tag.substr(1), tag));
    EXPECT_FALSE(none_match_hits(",,", tag));
    EXPECT_EQ(gzip_etag(tag), tag.substr(0, 33) + "-gz\"");
}

// A batch of row reads: one multi-get; the rows found are answered from it, an id that cannot be
// a key is answered at once, and a miss is left for row() to answer alone.
TEST(Reads, RowsAnswersABatchWithOneMultiGetAndLeavesTheMisses) {
    Fixture f;
    f.cache.put("/articles/1", "one");
    f.cache.put("/articles/2", "two");
    std::vector<RowRead> batch = {
        {.id = "1", .c = {}}, {.id = "3", .c = {}}, {.id = "2", .c = {}}, {.id = "a b", .c = {}}};
    f.reads.rows(batch);
    EXPECT_EQ(f.cache.batches, 1);
    EXPECT_EQ(f.cache.many, 0) << "a batch's misses are not asked alone there";
    EXPECT_EQ(f.cache.gets, 0) << "found rows cost no further round trip";
    ASSERT_TRUE(batch[0].answer);
    EXPECT_EQ(batch[0].answer->status, 200);
    EXPECT_EQ(text(*batch[0].answer), "one");
    EXPECT_FALSE(batch[1].answer) << "a miss is answered alone, where it may wait";
    ASSERT_TRUE(batch[2].answer);
    EXPECT_EQ(text(*batch[2].answer), "two");
    ASSERT_TRUE(batch[3].answer);
    EXPECT_EQ(batch[3].answer->status, 404);
    EXPECT_TRUE(f.fills.empty()) << "a batch asks the worker for nothing";
    // Nothing outlives the batch: the next one reads the cache again.
    f.cache.put("/articles/1", "one, rewritten");
    std::vector<RowRead> again = {{.id = "1", .c = {}}};
    f.reads.rows(again);
    EXPECT_EQ(text(*again[0].answer), "one, rewritten");
    EXPECT_EQ(f.cache.batches, 2);
}

TEST(Reads, RowsAnswersEachConditionOnItsOwn) {
    Fixture f;
    f.cache.put("/articles/1", "one");
    const std::string tag = etag_of("one");
    std::vector<RowRead> batch = {{.id = "1", .c = {.if_none_match = tag}},
                                  {.id = "1", .c = {.if_none_match = "", .gzip = true}},
                                  {.id = "1", .c = {}}};
    f.reads.rows(batch);
    EXPECT_EQ(batch[0].answer->status, 304);
    EXPECT_EQ(batch[1].answer->status, 200);
    EXPECT_TRUE(batch[1].answer->gzip);
    EXPECT_EQ(gunzip(text(*batch[1].answer)), "one");
    EXPECT_EQ(text(*batch[2].answer), "one");
}

// hits() cannot tell a row on a server that is down from a miss, so the batch answers neither:
// row() reads it alone, and the outage is a 503, never a miss's wait or a 404.
TEST(Reads, ABatchLeavesARowOnAServerThatIsDownToRow) {
    Fixture f;
    f.cache.put("/articles/1", "one");
    f.cache.put("/articles/2", "two");
    f.cache.unreachable = {"/articles/2"};
    std::vector<RowRead> batch = {{.id = "1", .c = {}}, {.id = "2", .c = {}}};
    f.reads.rows(batch);
    ASSERT_TRUE(batch[0].answer);
    EXPECT_EQ(text(*batch[0].answer), "one");
    EXPECT_FALSE(batch[1].answer);
    auto alone = f.reads.row("2", {""});
    EXPECT_EQ(alone.status, 503);
    EXPECT_EQ(alone.error, "cache_unavailable") << alone.detail;
    EXPECT_TRUE(f.fills.empty());
}

TEST(Reads, ABatchTheCacheCannotReadLeavesEveryRowToRow) {
    Fixture f;
    f.cache.put("/articles/1", "one");
    f.cache.failure = "memcached: timeout";
    std::vector<RowRead> batch = {{.id = "1", .c = {}}, {.id = "2", .c = {}}};
    f.reads.rows(batch);
    EXPECT_FALSE(batch[0].answer);
    EXPECT_FALSE(batch[1].answer);
}

}  // namespace
}  // namespace revalidator::ingress
