// The one way every reader of ours reads the cache (shared/cache/mc_gets.hpp), against real
// servers: each key gets its own answer; a key on a server that is down or frozen is Unreachable,
// never Absent, although one multi-get alone reports it as it reports a miss; and a frozen server
// costs a reader about one timeout, not one per key.
#include "cache/mc_gets.hpp"

#include <libmemcached/memcached.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cache/mc_client.hpp"
#include "process.hpp"
#include "ring.hpp"
#include "servers.hpp"

using namespace revalidator;
using namespace revalidator::testing;
using namespace std::chrono_literals;
using Status = McLookup::Status;

namespace {

constexpr auto kTimeout = 300ms;

// A handle on `servers` with the time bounds the ingress's reads give theirs.
class Handle {
  public:
    explicit Handle(const std::string& servers) : mc_(connect_memcached(servers)) {
        const auto ms = static_cast<uint64_t>(kTimeout.count());
        memcached_behavior_set(mc_, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, ms);
        memcached_behavior_set(mc_, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, ms);
        memcached_behavior_set(mc_, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 1);
    }
    ~Handle() { memcached_free(mc_); }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    memcached_st* get() const { return mc_; }

    void set(const std::string& key, const std::string& value) {
        ASSERT_EQ(memcached_set(mc_, key.data(), key.size(), value.data(), value.size(), 0, 0),
                  MEMCACHED_SUCCESS)
            << key;
    }
    in_port_t port_of(const std::string& key) const {
        return revalidator::testing::port_of(mc_, key);
    }

  private:
    memcached_st* mc_;
};

struct Cluster {
    TempDir dir;
    MemcachedServer a{dir.path(), "a"}, b{dir.path(), "b"}, c{dir.path(), "c"};
    Handle mc{a.address() + "," + b.address() + "," + c.address()};
    std::vector<std::string> keys;  // "/t/0" .. "/t/59"; the even ones hold "v<i>"

    Cluster() {
        for (int i = 0; i < 60; ++i) {
            keys.push_back("/t/" + std::to_string(i));
            if (i % 2 == 0) mc.set(keys.back(), "v" + std::to_string(i));
        }
    }
    int on_b() const {
        int n = 0;
        for (const auto& k : keys) n += mc.port_of(k) == b.port() ? 1 : 0;
        return n;
    }
};

}  // namespace

TEST(McGets, EveryKeyGetsItsOwnAnswerInOrder) {
    Cluster s;
    auto keys = s.keys;
    keys.push_back("/t/0");
    keys.push_back("a b");
    const auto got = mc_get_many(s.mc.get(), keys);
    ASSERT_EQ(got.size(), keys.size());
    for (int i = 0; i < 60; ++i) {
        if (i % 2 == 0) {
            EXPECT_EQ(got[i].status, Status::Found) << i;
            EXPECT_EQ(got[i].value, "v" + std::to_string(i));
        } else {
            EXPECT_EQ(got[i].status, Status::Absent) << i;
        }
    }
    EXPECT_EQ(got[60].value, "v0") << "a repeated key";
    EXPECT_EQ(got[61].status, Status::BadKey);
    EXPECT_FALSE(got[61].why.empty());

    const auto hits = mc_hits(s.mc.get(), keys);
    for (std::size_t i = 0; i < keys.size(); ++i) {
        EXPECT_EQ(hits[i],
                  got[i].status == Status::Found ? std::optional(got[i].value) : std::nullopt)
            << keys[i];
    }
    EXPECT_EQ(mc_get(s.mc.get(), "/t/2").value, "v2");
    EXPECT_EQ(mc_get(s.mc.get(), "/t/3").status, Status::Absent);
    EXPECT_EQ(mc_get(s.mc.get(), "a\r\nflush_all").status, Status::BadKey);
    EXPECT_EQ(mc_get(s.mc.get(), "/t/4").value, "v4") << "nothing of the bad key was sent";
}

// One multi-get reports the keys of a stopped server as it reports misses; mc_get_many asks them
// again and answers Unreachable, and the live servers' keys are still found.
TEST(McGets, AServerThatIsDownIsUnreachableNeverAbsent) {
    Cluster s;
    ASSERT_GT(s.on_b(), 0);
    s.b.stop();
    const auto hits = mc_hits(s.mc.get(), s.keys);
    const auto got = mc_get_many(s.mc.get(), s.keys);
    int unreachable = 0, found = 0;
    for (std::size_t i = 0; i < s.keys.size(); ++i) {
        const bool held = i % 2 == 0;
        if (s.mc.port_of(s.keys[i]) == s.b.port()) {
            EXPECT_FALSE(hits[i].has_value()) << "the multi-get leaves it out, as a miss";
            EXPECT_EQ(got[i].status, Status::Unreachable) << s.keys[i];
        }
        if (held) {
            EXPECT_NE(got[i].status, Status::Absent) << s.keys[i] << " is held";
        }
        unreachable += got[i].status == Status::Unreachable ? 1 : 0;
        if (got[i].status == Status::Found) {
            ++found;
            EXPECT_EQ(got[i].value, "v" + std::to_string(i));
        }
    }
    EXPECT_GT(unreachable, 0);
    EXPECT_GT(found, 0) << "the other servers' keys";
    for (const auto& key : s.keys) {
        if (s.mc.port_of(key) != s.b.port()) continue;
        const auto alone = mc_get(s.mc.get(), key);
        EXPECT_EQ(alone.status, Status::Unreachable) << key;
        EXPECT_FALSE(alone.why.empty());
        break;
    }
}

// A frozen server answers nothing and refuses nothing: each get of one of its keys waits the
// handle's whole timeout. About twenty keys live there, so waiting for each would take about
// 6 s; the rule bounds the call by a few timeouts, and still never calls a held key absent.
TEST(McGets, AFrozenServerCostsAFewTimeoutsNotOnePerKey) {
    Cluster s;
    const int on_b = s.on_b();
    ASSERT_GE(on_b, 10);
    std::vector<McLookup> got;
    std::chrono::steady_clock::duration took{};
    {
        Frozen frozen(s.b.process());
        const auto start = std::chrono::steady_clock::now();
        got = mc_get_many(s.mc.get(), s.keys);
        took = std::chrono::steady_clock::now() - start;
    }
    EXPECT_LT(took, 4 * kTimeout) << on_b << " keys on the frozen server";
    for (std::size_t i = 0; i < s.keys.size(); ++i) {
        if (s.mc.port_of(s.keys[i]) == s.b.port()) {
            EXPECT_EQ(got[i].status, Status::Unreachable) << s.keys[i];
        }
        if (i % 2 == 0) {
            EXPECT_NE(got[i].status, Status::Absent) << s.keys[i] << " is held";
        }
    }
    EXPECT_TRUE(eventually([&] { return mc_get(s.mc.get(), "/t/0").value == "v0"; }))
        << "the handle reads again once the server runs";
}
