// The list's layout: one item when it fits, otherwise parts plus a JSON manifest.
#include "list_layout.hpp"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace revalidator::worker {
namespace {

std::string list_of_bytes(std::size_t n) {
    std::string s = "[";
    while (s.size() + 1 < n) s += static_cast<char>('a' + s.size() % 26);
    s += "]";
    s.resize(n);
    return s;
}

std::string concat(const ListPlan& plan) {
    std::string all;
    for (const auto& p : plan.parts) all += p.value;
    return all;
}

TEST(ListLayout, PartKey) {
    EXPECT_EQ(part_key("/articles", 7, 0), "/articles:part:7:0");
    EXPECT_EQ(part_key("/articles", 1700000000000001, 12), "/articles:part:1700000000000001:12");
}

TEST(ListLayout, SmallListIsTheHead) {
    std::string list = R"([{"id": 1}, {"id": 2}])";
    ListPlan plan = plan_list("/articles", list, 1000, 5);
    EXPECT_TRUE(plan.parts.empty());
    EXPECT_EQ(plan.head, list);
}

TEST(ListLayout, EmptyListIsTheHead) {
    ListPlan plan = plan_list("/articles", "[]", 1000, 5);
    EXPECT_TRUE(plan.parts.empty());
    EXPECT_EQ(plan.head, "[]");
}

TEST(ListLayout, ExactlyMaxIsOneItem) {
    std::string list = list_of_bytes(100);
    ListPlan plan = plan_list("/articles", list, 100, 5);
    EXPECT_TRUE(plan.parts.empty());
    EXPECT_EQ(plan.head, list);
}

TEST(ListLayout, OneByteOverMaxIsTwoParts) {
    std::string list = list_of_bytes(101);
    ListPlan plan = plan_list("/articles", list, 100, 5);
    ASSERT_EQ(plan.parts.size(), 2u);
    EXPECT_EQ(plan.parts[0].value.size(), 100u);
    EXPECT_EQ(plan.parts[1].value.size(), 1u);
    EXPECT_EQ(concat(plan), list);
}

TEST(ListLayout, LargeListIsSplitIntoPartsAndAManifest) {
    const std::size_t max = 1000;
    std::string list = list_of_bytes(10'500);
    ListPlan plan = plan_list("/articles", list, max, 42);

    ASSERT_EQ(plan.parts.size(), 11u);
    for (std::size_t i = 0; i < plan.parts.size(); ++i) {
        EXPECT_EQ(plan.parts[i].key, "/articles:part:42:" + std::to_string(i));
        EXPECT_LE(plan.parts[i].value.size(), max);
        if (i + 1 < plan.parts.size()) {
            EXPECT_EQ(plan.parts[i].value.size(), max);
        }
    }
    EXPECT_EQ(plan.parts.back().value.size(), 500u);
    EXPECT_EQ(concat(plan), list);

    ASSERT_FALSE(plan.head.empty());
    EXPECT_EQ(plan.head.front(), '{');  // readers tell a manifest from a list by its first byte
    auto manifest = nlohmann::json::parse(plan.head);
    EXPECT_EQ(
        manifest,
        (nlohmann::json{{"chunked", true}, {"generation", 42}, {"parts", 11}, {"bytes", 10'500}}));
}

TEST(ListLayout, ExactMultipleOfMaxHasNoEmptyPart) {
    std::string list = list_of_bytes(3000);
    ListPlan plan = plan_list("/l", list, 1000, 1);
    ASSERT_EQ(plan.parts.size(), 3u);
    for (const auto& p : plan.parts) EXPECT_EQ(p.value.size(), 1000u);
    EXPECT_EQ(concat(plan), list);
    EXPECT_EQ(nlohmann::json::parse(plan.head).at("parts"), 3);
}

TEST(ListLayout, PartsPointIntoTheList) {
    std::string list = list_of_bytes(250);
    ListPlan plan = plan_list("/l", list, 100, 1);
    ASSERT_EQ(plan.parts.size(), 3u);
    EXPECT_EQ(plan.parts[0].value.data(), list.data());
    EXPECT_EQ(plan.parts[1].value.data(), list.data() + 100);
    EXPECT_EQ(plan.parts[2].value.data(), list.data() + 200);
}

TEST(ListLayout, GenerationsGiveDistinctPartKeys) {
    std::string list = list_of_bytes(250);
    ListPlan a = plan_list("/l", list, 100, 1);
    ListPlan b = plan_list("/l", list, 100, 2);
    for (const auto& pa : a.parts) {
        for (const auto& pb : b.parts) EXPECT_NE(pa.key, pb.key);
    }
    EXPECT_NE(a.head, b.head);
}

TEST(ListLayout, ZeroMaxItemBytesDoesNotCrash) {
    ListPlan plan = plan_list("/l", "[1]", 0, 1);
    EXPECT_EQ(concat(plan) + plan.head, "[1]");
}

}  // namespace
}  // namespace revalidator::worker
