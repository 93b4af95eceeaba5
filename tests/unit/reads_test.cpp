// The read API's logic against a fake cache: hits, 304s, ids that cannot be keys, what a miss
// does (one fill asked of the worker, a bounded wait, 503), chunked lists read whole or not at
// all, and hostile manifests. The HTTP mapping is read_routes_test.cpp's; the real Memcached and
// worker are the integration tests'.
#include "reads.hpp"

#include <atomic>
#include <functional>
#include <map>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "etag.hpp"
#include "manifest.hpp"

namespace revalidator::ingress {
namespace {

using namespace std::chrono_literals;

class FakeCache final : public CacheReads {
  public:
    std::mutex mu;
    std::map<std::string, std::string> store;
    std::string failure;  // when set, every call fails with it
    int gets = 0;
    int many = 0;
    std::vector<std::string> asked_keys;
    std::function<void(FakeCache&)> after_get;  // runs after each get, under no lock

    Result<std::optional<std::string>, std::string> get(const std::string& key) override {
        std::optional<std::string> out;
        {
            std::lock_guard lock(mu);
            ++gets;
            asked_keys.push_back(key);
            if (!failure.empty()) return Err(failure);
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
            if (auto it = store.find(k); it != store.end()) out.emplace(k, it->second);
        }
        return out;
    }
    void put(const std::string& k, const std::string& v) {
        std::lock_guard lock(mu);
        store[k] = v;
    }
};

struct Fixture {
    FakeCache cache;
    metrics::Registry registry;
    std::mutex fills_mu;
    std::vector<std::string> fills;
    bool accept_fills = true;
    std::function<void(const std::string&)> on_fill;
    Reads reads{{.prefix = "/articles", .fill_wait = 60ms, .poll_every = 2ms},
                cache,
                [this](const std::string& id) {
                    {
                        std::lock_guard lock(fills_mu);
                        fills.push_back(id);
                    }
                    if (on_fill) on_fill(id);
                    return accept_fills;
                },
                registry};

    std::string metrics() const { return registry.render(); }
};

bool has_line(const std::string& text, const std::string& line) {
    return text.find(line + "\n") != std::string::npos;
}

TEST(Reads, RowHitAnswersTheCachedBytesWithTheirTag) {
    Fixture f;
    f.cache.put("/articles/7", R"({"id": 7, "title": "x"})");
    auto a = f.reads.row("7", "");
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.body, R"({"id": 7, "title": "x"})");
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
        auto a = f.reads.row("7", inm);
        EXPECT_EQ(a.status, 304) << inm;
        EXPECT_TRUE(a.body.empty());
        EXPECT_EQ(a.etag, tag);
    }
    EXPECT_EQ(f.reads.row("7", "\"other\"").status, 200);
    f.cache.put("/articles/7", "{\"id\": 7, \"v\": 2}");
    EXPECT_EQ(f.reads.row("7", tag).status, 200) << "a changed value has a new tag";
}

TEST(Reads, AnIdThatCannotBeAKeyIs404AndNeverReachesTheCacheOrTheWorker) {
    Fixture f;
    for (const std::string& id : {std::string("a b"), std::string("7\r\nflush_all"),
                                  std::string(300, 'x'), std::string("\xff\xfe")}) {
        auto a = f.reads.row(id, "");
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
    auto a = f.reads.row("9", "");
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.body, "{\"id\": 9}");
    EXPECT_EQ(f.fills, std::vector<std::string>{"9"});
    const auto m = f.metrics();
    EXPECT_TRUE(has_line(m, R"(revalidator_ingress_reads_total{route="row",result="filled"} 1)"));
    EXPECT_TRUE(has_line(m, "revalidator_ingress_read_fills_total 1"));
}

TEST(Reads, AMissThatIsNotFilledIs503NeverA404) {
    Fixture f;
    auto a = f.reads.row("9", "");
    EXPECT_EQ(a.status, 503);
    EXPECT_EQ(a.error, "not_cached");
    EXPECT_GT(f.cache.gets, 1) << "it looked again while it waited";
    EXPECT_EQ(f.fills, std::vector<std::string>{"9"});
    EXPECT_TRUE(has_line(f.metrics(),
                         R"(revalidator_ingress_reads_total{route="row",result="not_cached"} 1)"));
}

TEST(Reads, ConcurrentMissesOfOneRowAskTheWorkerOnce) {
    Fixture f;
    std::atomic<int> answered{0};
    std::vector<std::thread> readers;
    for (int i = 0; i < 8; ++i) {
        readers.emplace_back([&] {
            if (f.reads.row("5", "").status == 503) ++answered;
        });
    }
    for (auto& t : readers) t.join();
    EXPECT_EQ(answered, 8);
    EXPECT_EQ(f.fills, std::vector<std::string>{"5"});
}

TEST(Reads, AFillTheQueueRefusesIsCountedAndTheReadStill503s) {
    Fixture f;
    f.accept_fills = false;
    EXPECT_EQ(f.reads.row("9", "").status, 503);
    EXPECT_TRUE(has_line(f.metrics(), "revalidator_ingress_read_fills_refused_total 1"));
}

TEST(Reads, AnUnreachableCacheIs503NamingWhy) {
    Fixture f;
    f.cache.failure = "memcached: timed out";
    for (auto a : {f.reads.row("1", ""), f.reads.list("")}) {
        EXPECT_EQ(a.status, 503);
        EXPECT_EQ(a.error, "cache_unavailable");
        EXPECT_NE(a.detail.find("timed out"), std::string::npos);
    }
    EXPECT_TRUE(f.fills.empty()) << "an unreachable cache is not a miss";
}

TEST(Reads, AListInOneItemIsAnsweredAsStored) {
    Fixture f;
    f.cache.put("/articles", R"([{"id": 1}, {"id": 2}])");
    auto a = f.reads.list("");
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.body, R"([{"id": 1}, {"id": 2}])");
    EXPECT_EQ(f.reads.list(a.etag).status, 304);
}

TEST(Reads, AMissingListIs503AtOnce) {
    Fixture f;
    auto a = f.reads.list("");
    EXPECT_EQ(a.status, 503);
    EXPECT_EQ(a.error, "not_cached");
    EXPECT_EQ(f.cache.gets, 1);
}

TEST(Reads, AChunkedListIsReassembledFromItsParts) {
    Fixture f;
    const std::string head = manifest::encode(14, {"/articles:part:5:0", "/articles:part:5:1"});
    f.cache.put("/articles", head);
    f.cache.put("/articles:part:5:0", R"([{"id": 1}, )");
    f.cache.put("/articles:part:5:1", R"(2])");
    auto a = f.reads.list("");
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.body, R"([{"id": 1}, 2])");
    EXPECT_EQ(a.etag, etag_of(head));
    const int many = f.cache.many;
    EXPECT_EQ(f.reads.list(a.etag).status, 304);
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
    auto a = f.reads.list("");
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.body, "[1]");
}

TEST(Reads, AChunkedListThatNeverReadsWholeIs503NeverTorn) {
    for (const bool wrong_length : {false, true}) {
        Fixture f;
        f.cache.put("/articles", manifest::encode(wrong_length ? 99 : 6,
                                                  {"/articles:part:1:0", "/articles:part:1:1"}));
        f.cache.put("/articles:part:1:0", "[1, ");
        if (wrong_length) f.cache.put("/articles:part:1:1", "2]");
        auto a = f.reads.list("");
        EXPECT_EQ(a.status, 503);
        EXPECT_EQ(a.error, "list_changing");
        EXPECT_TRUE(a.body.empty());
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
        auto a = f.reads.list("");
        EXPECT_EQ(a.status, 503) << head;
        EXPECT_EQ(a.error, "list_unreadable");
        EXPECT_EQ(f.cache.many, 0) << "no part was asked for";
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
}

}  // namespace
}  // namespace revalidator::ingress
