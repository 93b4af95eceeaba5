// A batch's sets and deletes pipelined over the meta protocol (worker/mc_pipeline.hpp, behind
// McSink::set_many and remove_many), against real servers: every key gets its own outcome (a
// value over the item limit in the middle of a batch is Refused and the keys around it are
// written), keys land where libmemcached's ring puts them and are deleted there, a key that was
// not there is deleted all the same, an expiring set expires, a stopped or frozen server's keys are
// Unreachable and a frozen one costs the batch about one timeout, and the write gate is asked
// before each chunk.
#include "mc_pipeline.hpp"

#include <libmemcached/memcached.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cache/mc_client.hpp"
#include "cache/mc_gets.hpp"
#include "mc_sink.hpp"
#include "process.hpp"
#include "ring.hpp"
#include "servers.hpp"

using namespace revalidator;
using namespace revalidator::testing;
using namespace revalidator::worker;
using namespace std::chrono_literals;

namespace {

constexpr McTimeouts kTimeouts{.connect = 300ms, .io = 300ms};

// A libmemcached handle on `servers` as every reader of ours has one: where a key is, and what
// it holds.
class Reader {
  public:
    explicit Reader(const std::string& servers) : mc_(connect_memcached(servers, kTimeouts)) {}
    ~Reader() { memcached_free(mc_); }
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    memcached_st* get() const { return mc_; }

    std::optional<std::string> value(const std::string& key) const {
        McLookup got = mc_get(mc_, key);
        return got.status == McLookup::Status::Found ? std::optional(got.value) : std::nullopt;
    }
    in_port_t port_of(const std::string& key) const {
        return revalidator::testing::port_of(mc_, key);
    }

  private:
    memcached_st* mc_;
};

struct Batch {
    std::vector<std::string> keys, values;
    std::vector<CacheItem> items;

    Batch(int n, const std::string& tag) {
        for (int i = 0; i < n; ++i) {
            keys.push_back("/t/" + std::to_string(i));
            values.push_back(tag + std::to_string(i) + std::string(600, 'x'));
        }
        for (int i = 0; i < n; ++i) items.push_back({keys[i], values[i]});
    }
};

std::vector<WriteStatus> all(std::size_t n, WriteStatus s) {
    return std::vector<WriteStatus>(n, s);
}

}  // namespace

TEST(McPipeline, AValueTooLargeInTheMiddleIsRefusedAndTheKeysAroundItAreWritten) {
    TempDir dir;
    MemcachedServer server(dir.path());
    McSink sink(server.address(), kTimeouts);
    Reader reader(server.address());
    Batch b(200, "v");
    ASSERT_EQ(sink.set(b.keys[100], "old"), WriteStatus::Ok);
    const std::string large(2 << 20, 'L');  // over memcached's default item limit of 1 MiB
    b.items[100].value = large;
    b.items[150].value = large;

    auto statuses = sink.set_many(b.items);
    ASSERT_EQ(statuses.size(), b.items.size());
    for (std::size_t i = 0; i < b.items.size(); ++i) {
        const bool too_large = i == 100 || i == 150;
        EXPECT_EQ(statuses[i], too_large ? WriteStatus::Refused : WriteStatus::Ok) << i;
        EXPECT_EQ(reader.value(b.keys[i]), too_large ? std::nullopt : std::optional(b.values[i]))
            << i << (i == 100 ? ": memcached drops what a refused set would have replaced" : "");
    }
    // The connection stayed in step: the next batch is answered as usual.
    Batch again(200, "w");
    EXPECT_EQ(sink.set_many(again.items), all(200, WriteStatus::Ok));
    EXPECT_EQ(reader.value(again.keys[100]), again.values[100]);
}

TEST(McPipeline, AnEmptyBatchAsksNothing) {
    TempDir dir;
    MemcachedServer server(dir.path());
    int asked = 0;
    McSink sink(server.address(), kTimeouts,
                {.open = [&] { return ++asked, true; }, .closed_during_write = {}});
    EXPECT_TRUE(sink.set_many({}).empty());
    EXPECT_EQ(asked, 0);
    Batch b(3, "v");
    EXPECT_EQ(sink.set_many(b.items), all(3, WriteStatus::Ok));
    EXPECT_EQ(asked, 1) << "one chunk";
}

// Two servers, and a batch of 300 keys written to them.
class TwoServers : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_EQ(sink.set_many(batch.items), all(300, WriteStatus::Ok)); }

    TempDir dir;
    MemcachedServer a{dir.path(), "a"}, b{dir.path(), "b"};
    const std::string both = a.address() + "," + b.address();
    McSink sink{both, kTimeouts};
    Batch batch{300, "v"};
};

// Every key is where libmemcached's ring says: each server, read alone, holds exactly the keys
// the ring gives it.
TEST_F(TwoServers, KeysLandWhereLibmemcachedsRingPutsThem) {
    Reader ring(both), only_a(a.address()), only_b(b.address());
    int on_a = 0;
    for (std::size_t i = 0; i < batch.keys.size(); ++i) {
        const std::string& key = batch.keys[i];
        EXPECT_EQ(ring.value(key), batch.values[i]) << key;
        const bool at_a = ring.port_of(key) == a.port();
        on_a += at_a ? 1 : 0;
        EXPECT_EQ(only_a.value(key).has_value(), at_a) << key;
        EXPECT_EQ(only_b.value(key).has_value(), !at_a) << key;
    }
    EXPECT_GT(on_a, 50);
    EXPECT_LT(on_a, 250);
}

// Deletes go where the ring puts each key, on both servers at once; a key that was never there
// is Ok (the delete's purpose holds), and only the keys asked for are gone.
TEST_F(TwoServers, DeletesReachEveryServerAndAMissingKeyIsOk) {
    std::vector<std::string> gone;
    for (int i = 0; i < 300; i += 2) gone.push_back(batch.keys[i]);
    gone.push_back("/t/never-written");
    EXPECT_EQ(sink.remove_many(gone), all(gone.size(), WriteStatus::Ok));
    EXPECT_EQ(sink.remove_many(gone), all(gone.size(), WriteStatus::Ok)) << "deleted twice";

    Reader ring(both);
    for (std::size_t i = 0; i < batch.keys.size(); ++i) {
        EXPECT_EQ(ring.value(batch.keys[i]).has_value(), i % 2 == 1) << batch.keys[i];
    }
}

// A set with a lifetime is dropped by Memcached after it; the others are kept.
TEST(McPipeline, AnExpiringSetExpires) {
    TempDir dir;
    MemcachedServer server(dir.path());
    McSink sink(server.address(), kTimeouts);
    std::vector<CacheItem> items{{.key = "/t:absent/1", .value = "1", .ttl = 1s},
                                 {.key = "/t/2", .value = "kept", .ttl = 0s}};
    ASSERT_EQ(sink.set_many(items), all(2, WriteStatus::Ok));
    Reader reader(server.address());
    EXPECT_EQ(reader.value("/t:absent/1"), "1");
    // Memcached's clock ticks once a second: the item is gone within about two.
    EXPECT_TRUE(eventually([&] { return !reader.value("/t:absent/1").has_value(); }, 5s));
    EXPECT_EQ(reader.value("/t/2"), "kept");
}

TEST(McPipeline, AStoppedServersKeysAreUnreachableAndItIsWrittenAgainOnceBack) {
    TempDir dir;
    MemcachedServer a(dir.path(), "a"), b(dir.path(), "b");
    const std::string both = a.address() + "," + b.address();
    McSink sink(both, kTimeouts);
    Reader ring(both);
    Batch batch(100, "v");
    ASSERT_EQ(sink.set_many(batch.items), all(100, WriteStatus::Ok));

    b.stop();
    const auto start = std::chrono::steady_clock::now();
    auto statuses = sink.set_many(batch.items);
    EXPECT_LT(std::chrono::steady_clock::now() - start, kTimeouts.io);
    int unreachable = 0;
    for (std::size_t i = 0; i < batch.keys.size(); ++i) {
        const bool at_b = ring.port_of(batch.keys[i]) == b.port();
        EXPECT_EQ(statuses[i], at_b ? WriteStatus::Unreachable : WriteStatus::Ok) << i;
        unreachable += at_b ? 1 : 0;
    }
    EXPECT_GT(unreachable, 0);

    b.start();
    Batch after(100, "w");
    EXPECT_TRUE(eventually([&] { return sink.set_many(after.items) == all(100, WriteStatus::Ok); }))
        << "a server that is back is written again";
    for (std::size_t i = 0; i < after.keys.size(); ++i)
        EXPECT_EQ(ring.value(after.keys[i]), after.values[i]) << i;
}

// A server restarted between two batches closed the connection the pipeline keeps: the next
// batch notices before sending and opens another, rather than failing the server's keys.
TEST(McPipeline, AServerRestartedBetweenBatchesIsWrittenAtOnce) {
    TempDir dir;
    MemcachedServer server(dir.path());
    McSink sink(server.address(), kTimeouts);
    Batch batch(50, "v");
    ASSERT_EQ(sink.set_many(batch.items), all(50, WriteStatus::Ok));
    server.stop();
    server.start();
    EXPECT_EQ(sink.set_many(batch.items), all(50, WriteStatus::Ok));
}

// A frozen server accepts connections and bytes and answers nothing. With a set per key each of
// its keys waited a timeout; a pipelined batch waits about one, whatever their number, and then
// leaves the server alone for the rest of it.
TEST(McPipeline, AFrozenServerCostsTheBatchAboutOneTimeout) {
    TempDir dir;
    MemcachedServer a(dir.path(), "a"), b(dir.path(), "b"), c(dir.path(), "c");
    const std::string servers = a.address() + "," + b.address() + "," + c.address();
    // Chunks of about 64 KiB: the frozen server's keys are in many of them.
    Reader ring(servers);
    McPipeline pipeline(ring.get(), kTimeouts, {}, 64 << 10);
    Batch batch(600, "v");
    ASSERT_EQ(pipeline.set_many(batch.items), all(600, WriteStatus::Ok));

    int on_b = 0;
    for (const auto& key : batch.keys) on_b += ring.port_of(key) == b.port() ? 1 : 0;
    ASSERT_GE(on_b, 100);
    std::vector<WriteStatus> statuses;
    std::chrono::steady_clock::duration took{};
    Batch frozen_batch(600, "w");
    {
        Frozen frozen(b.process());
        const auto start = std::chrono::steady_clock::now();
        statuses = pipeline.set_many(frozen_batch.items);
        took = std::chrono::steady_clock::now() - start;
    }
    EXPECT_LT(took, 2 * kTimeouts.io) << on_b << " keys on the frozen server";
    EXPECT_GE(took, kTimeouts.io) << "it was given its whole timeout";
    for (std::size_t i = 0; i < batch.keys.size(); ++i) {
        const bool at_b = ring.port_of(batch.keys[i]) == b.port();
        EXPECT_EQ(statuses[i], at_b ? WriteStatus::Unreachable : WriteStatus::Ok) << i;
        if (!at_b) {
            EXPECT_EQ(ring.value(batch.keys[i]), frozen_batch.values[i]) << i;
        }
    }
    Batch after(600, "x");
    EXPECT_TRUE(eventually([&] {
        return pipeline.set_many(after.items) == all(600, WriteStatus::Ok);
    })) << "the server is written again once it runs";
}

TEST(McPipeline, AClosedGateStopsTheBatchBeforeAnyChunkIsSent) {
    TempDir dir;
    MemcachedServer server(dir.path());
    Reader reader(server.address());
    int reported = 0;
    McPipeline pipeline(reader.get(), kTimeouts,
                        {.open = [] { return false; }, .closed_during_write = [&] { ++reported; }});
    Batch batch(10, "v");
    EXPECT_THROW(pipeline.set_many(batch.items), Fenced);
    EXPECT_EQ(reported, 0) << "nothing was written";
    for (const auto& key : batch.keys) EXPECT_FALSE(reader.value(key).has_value()) << key;
}

// The gate closes while the first chunk is out: that is reported once its answers are in, and the
// next chunk is never sent.
TEST(McPipeline, AGateThatClosesDuringAChunkIsReportedAndStopsTheNext) {
    TempDir dir;
    MemcachedServer server(dir.path());
    Reader reader(server.address());
    int asked = 0, reported = 0;
    McPipeline pipeline(
        reader.get(), kTimeouts,
        {.open = [&] { return ++asked == 1; }, .closed_during_write = [&] { ++reported; }},
        16 << 10);
    Batch batch(100, "v");  // ~62 KB: four chunks of 16 KiB
    EXPECT_THROW(pipeline.set_many(batch.items), Fenced);
    EXPECT_EQ(reported, 1);
    EXPECT_EQ(asked, 3) << "before the first chunk, after it, before the second";
    EXPECT_EQ(reader.value(batch.keys.front()), batch.values.front()) << "the first chunk's";
    EXPECT_FALSE(reader.value(batch.keys.back()).has_value()) << "the last chunk was never sent";
}
