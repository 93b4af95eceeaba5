#include "wire.hpp"

#include <gtest/gtest.h>

using namespace revalidator;

TEST(Wire, RoundTrip) {
    Event e{"ingress-a", 1700000000000000, 42, 1700000000123456, Op::Delete, "public", "articles", "17"};
    auto back = wire::decode(wire::encode(e));
    ASSERT_TRUE(back.ok()) << back.error().detail;
    EXPECT_EQ(*back, e);
}

TEST(Wire, RejectsUnknownVersion) {
    auto r = wire::decode(R"({"v":2,"stream":"a","epoch":1,"seq":1,"ts":1,"op":"UPDATE","schema":"public","table":"articles","pk":"1"})");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().reason, "unknown_version");
}
