// The key distribution every handle of ours shares (shared/cache/mc_client.hpp), computed by
// libmemcached without contacting a server: a copy of a handle must put every key where the
// original does. That twemproxy agrees with them is tests/integration/cluster_test.cpp's.
#include "cache/mc_client.hpp"

#include <libmemcached/memcached.h>

#include <string>

#include <gtest/gtest.h>

namespace revalidator {
namespace {

in_port_t server_of(memcached_st* mc, const std::string& key) {
    memcached_return_t rc{};
    const memcached_instance_st* server = memcached_server_by_key(mc, key.data(), key.size(), &rc);
    EXPECT_EQ(rc, MEMCACHED_SUCCESS);
    return server ? memcached_server_port(server) : 0;
}

TEST(McClient, ACopyPutsEveryKeyOnTheOriginalsServer) {
    memcached_st* mc = connect_memcached("127.0.0.1:21001,127.0.0.1:21002,127.0.0.1:21003");
    memcached_st* copy = clone_memcached(mc);
    int per_server[3] = {0, 0, 0};
    for (int i = 0; i < 3000; ++i) {
        const std::string key = "/articles/" + std::to_string(i);
        const in_port_t port = server_of(mc, key);
        EXPECT_EQ(server_of(copy, key), port) << key;
        if (port >= 21001 && port <= 21003) ++per_server[port - 21001];
    }
    for (int n : per_server) EXPECT_GT(n, 700) << "keys are spread over the three servers";
    memcached_free(copy);
    memcached_free(mc);
}

TEST(McClient, AddingAServerMovesAboutAQuarterOfTheKeys) {
    memcached_st* three = connect_memcached("127.0.0.1:21001,127.0.0.1:21002,127.0.0.1:21003");
    memcached_st* four =
        connect_memcached("127.0.0.1:21001,127.0.0.1:21002,127.0.0.1:21003,127.0.0.1:21004");
    int moved = 0;
    for (int i = 0; i < 4000; ++i) {
        const std::string key = "/articles/" + std::to_string(i);
        const in_port_t to = server_of(four, key);
        if (to != server_of(three, key)) {
            ++moved;
            EXPECT_EQ(to, 21004) << key << ": a key moves only to the new server";
        }
    }
    EXPECT_GT(moved, 600);
    EXPECT_LT(moved, 1400);
    memcached_free(four);
    memcached_free(three);
}

}  // namespace
}  // namespace revalidator
