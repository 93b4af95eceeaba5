// The list store's bound and order: the least recently used version goes first, a gzip made
// later counts against the bound, and a version larger than the bound is answered, not kept.
#include "reads/list_store.hpp"

#include <gtest/gtest.h>

#include "cache/list_version.hpp"

namespace revalidator::ingress {
namespace {

std::string version_of(int i) {
    return list_version(std::to_string(i));
}

TEST(ListStore, TheLeastRecentlyUsedVersionGoesFirst) {
    metrics::Registry registry;
    ListStore store(300, registry);
    store.keep("/a", version_of(1), std::string(100, '1'));
    store.keep("/a", version_of(2), std::string(100, '2'));
    ASSERT_TRUE(store.find("/a", version_of(1)));  // 1 is now the most recently used
    store.keep("/b", version_of(3), std::string(150, '3'));
    EXPECT_TRUE(store.find("/a", version_of(1)));
    EXPECT_FALSE(store.find("/a", version_of(2)));
    EXPECT_TRUE(store.find("/b", version_of(3)));
    EXPECT_EQ(store.bytes(), 250u);
    EXPECT_FALSE(store.find("/b", version_of(1))) << "a version is the list's own";
    EXPECT_NE(registry.render().find("revalidator_ingress_list_store_evictions_total 1"),
              std::string::npos);
}

TEST(ListStore, AGzipMadeLaterCountsAgainstTheBound) {
    metrics::Registry registry;
    ListStore store(10'000, registry);
    auto first = store.keep("/a", version_of(1), std::string(4'000, 'x'));
    store.keep("/a", version_of(2), std::string(5'000, 'y'));
    EXPECT_EQ(store.bytes(), 9'000u);
    const auto& gz = first->gzipped();
    EXPECT_EQ(store.bytes(), 9'000u + gz->size());
    EXPECT_EQ(first->gzipped(), gz) << "made once";

    std::string noise;
    for (int i = 0; i < 3'000; ++i) noise += static_cast<char>('a' + (i * 7919) % 26);
    ASSERT_TRUE(store.find("/a", version_of(2)));  // 1 is now the least recently used
    store.keep("/a", version_of(3), noise);        // over the bound: 1 goes
    EXPECT_FALSE(store.find("/a", version_of(1)));
    EXPECT_LE(store.bytes(), 10'000u);
    EXPECT_EQ(*first->bytes(), std::string(4'000, 'x')) << "an answer holding it keeps its bytes";
}

TEST(ListStore, AVersionLargerThanTheBoundIsAnsweredNotKept) {
    metrics::Registry registry;
    ListStore store(100, registry);
    auto body = store.keep("/a", version_of(1), std::string(101, 'x'));
    EXPECT_EQ(body->bytes()->size(), 101u);
    EXPECT_EQ(body->etag(), "\"" + version_of(1) + "\"");
    EXPECT_FALSE(store.find("/a", version_of(1)));
    EXPECT_EQ(store.bytes(), 0u);
    body->gzipped();
    EXPECT_EQ(store.bytes(), 0u);
}

}  // namespace
}  // namespace revalidator::ingress
