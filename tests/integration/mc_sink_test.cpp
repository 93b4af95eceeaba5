// The Memcached adapter against a real server: a key the text protocol would misread (an injected
// command, a space, over 250 bytes) is refused before it is sent, whichever call carries it, and
// the connection stays in step for the keys that follow.
#include "mc_sink.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "servers.hpp"

using namespace revalidator::testing;
using revalidator::worker::CacheItem;
using revalidator::worker::McSink;
using revalidator::worker::WriteStatus;

namespace {

const std::vector<std::string> kMisread = {"a\r\nset injected 0 0 1\r\nI\r\nget a",
                                           "a b",
                                           std::string(300, 'k'),
                                           "",
                                           "ctl\x01key",
                                           "bad\xff"};

}  // namespace

TEST(McSink, KeysTheTextProtocolWouldMisreadAreRefusedAndNeverSent) {
    TempDir dir;
    MemcachedServer server(dir.path());
    McSink sink(server.address());
    ASSERT_EQ(sink.set("/t/ok", "before"), WriteStatus::Ok);

    for (const auto& key : kMisread) {
        SCOPED_TRACE(testing::PrintToString(key));
        EXPECT_EQ(sink.set(key, "v"), WriteStatus::Refused);
        EXPECT_EQ(sink.remove(key), WriteStatus::Refused);
        auto found = sink.get(key);
        EXPECT_FALSE(found.value.has_value());
        EXPECT_TRUE(found.reachable) << "a bad key says nothing about the server";
        EXPECT_FALSE(sink.has(key));
    }
    // One batch, bad keys between good ones: the good ones are pipelined around them.
    std::vector<std::string> good;
    std::vector<CacheItem> items;
    for (int i = 0; i < 40; ++i) good.push_back("/t/" + std::to_string(i));
    for (std::size_t i = 0; i < good.size(); ++i) {
        items.push_back({good[i], "g"});
        items.push_back({kMisread[i % kMisread.size()], "b"});
    }
    auto statuses = sink.set_many(items);
    ASSERT_EQ(statuses.size(), items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
        EXPECT_EQ(statuses[i], i % 2 == 0 ? WriteStatus::Ok : WriteStatus::Refused) << i;
    }

    EXPECT_FALSE(sink.get("injected").value.has_value());
    EXPECT_EQ(sink.get("/t/ok").value, "before");
    for (const auto& key : good) EXPECT_EQ(sink.get(key).value, "g") << key;
    ASSERT_EQ(sink.set("/t/ok", "after"), WriteStatus::Ok);
    EXPECT_EQ(sink.get("/t/ok").value, "after");
}

TEST(McSink, Utf8KeysAreKeys) {
    TempDir dir;
    MemcachedServer server(dir.path());
    McSink sink(server.address());
    const std::string key = "/t/caf\xc3\xa9-\xe2\x82\xac";
    ASSERT_EQ(sink.set(key, "v"), WriteStatus::Ok);
    EXPECT_EQ(sink.get(key).value, "v");
    EXPECT_TRUE(sink.has(key));
    const std::vector<CacheItem> items{{key, "w"}};
    EXPECT_EQ(sink.set_many(items), std::vector{WriteStatus::Ok}) << "a pipelined set too";
    EXPECT_EQ(sink.get(key).value, "w");
    EXPECT_EQ(sink.remove(key), WriteStatus::Ok);
    EXPECT_FALSE(sink.get(key).value.has_value());
}

// get_many across three servers: found, absent, repeated and unsendable keys each get their own
// answer in order; with a server down, its keys are unanswered, never a miss (a multi-get alone
// would say absent), and the others' keys are still found.
TEST(McSink, GetManyAnswersEveryKeyInOrderAcrossServers) {
    TempDir dir;
    MemcachedServer a(dir.path(), "a"), b(dir.path(), "b"), c(dir.path(), "c");
    McSink sink(a.address() + "," + b.address() + "," + c.address());
    std::vector<std::string> keys;
    for (int i = 0; i < 60; ++i) {
        keys.push_back("/t/" + std::to_string(i));
        if (i % 2 == 0) {
            ASSERT_EQ(sink.set(keys.back(), "v" + std::to_string(i)), WriteStatus::Ok);
        }
    }
    keys.push_back("/t/0");
    keys.push_back("a b");
    auto got = sink.get_many(keys);
    ASSERT_EQ(got.size(), keys.size());
    for (int i = 0; i < 60; ++i) {
        EXPECT_TRUE(got[i].reachable) << i;
        EXPECT_EQ(got[i].value, i % 2 == 0 ? std::optional("v" + std::to_string(i)) : std::nullopt)
            << i;
    }
    EXPECT_EQ(got[60].value, "v0") << "a repeated key";
    EXPECT_FALSE(got[61].value.has_value()) << "an unsendable key is a miss";
    EXPECT_TRUE(got[61].reachable);

    b.stop();
    got = sink.get_many(keys);
    int unanswered = 0, found = 0;
    for (int i = 0; i < 60; ++i) {
        if (!got[i].reachable) {
            ++unanswered;
            EXPECT_FALSE(got[i].value.has_value());
            continue;
        }
        if (got[i].value) {
            ++found;
            EXPECT_EQ(got[i].value, "v" + std::to_string(i));
        }
    }
    EXPECT_GT(unanswered, 0) << "the stopped server's keys";
    EXPECT_GT(found, 0) << "the other servers' keys";
}
