#include <gtest/gtest.h>

#include "url.hpp"

using loadgen::parse_url;

TEST(Url, HostPortPath) {
    auto u = parse_url("http://127.0.0.1:8080/revalidate");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->host, "127.0.0.1");
    EXPECT_EQ(u->port, 8080);
    EXPECT_EQ(u->path, "/revalidate");
    EXPECT_EQ(u->host_header, "127.0.0.1:8080");
}

TEST(Url, DefaultsAndIpv6) {
    auto u = parse_url("http://localhost");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->port, 80);
    EXPECT_EQ(u->path, "/");
    auto v6 = parse_url("http://[::1]:9000/x");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->port, 9000);
}

TEST(Url, Rejects) {
    EXPECT_FALSE(parse_url("https://example.com/"));
    EXPECT_FALSE(parse_url("http://:80/"));
    EXPECT_FALSE(parse_url("http://host:99999/"));
    EXPECT_FALSE(parse_url("http://host:x/"));
}
