#include "cache/server_list.hpp"

#include <gtest/gtest.h>

namespace revalidator {
namespace {

TEST(ServerList, HostsWithAndWithoutPorts) {
    auto r = parse_server_list("127.0.0.1:11311,cache", 11211);
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0].host, "127.0.0.1");
    EXPECT_EQ((*r)[0].port, 11311);
    EXPECT_EQ((*r)[1].host, "cache");
    EXPECT_EQ((*r)[1].port, 11211);
}

TEST(ServerList, RejectsWhatIsNotAServer) {
    for (const char* bad : {"", "a:", "a:x", "a:0", "a:70000", ":11211", "a:1,", "a:1,,b"}) {
        auto r = parse_server_list(bad, 11211);
        EXPECT_FALSE(r.ok()) << bad;
    }
}

}  // namespace
}  // namespace revalidator
