// Which tables a worker serves, and with which endpoint: validate() and per_table() over a Config
// as the parser leaves it (the checks of each value alone are worker_options_test's).
#include "worker_config.hpp"

#include <gtest/gtest.h>

namespace revalidator::worker {
namespace {

Collection collection(const std::string& name, const std::string& order_by = "") {
    Collection c{.name = name, .table = {}, .order_by = order_by};
    c.table.name = name;
    c.table.prefix = "/" + name;
    return c;
}

TEST(WorkerConfig, EachNamedCollectionGetsItsEndpointInOrder) {
    Config cfg;
    cfg.collections = {collection("articles"), collection("authors", "name")};
    cfg.collections[0].views.push_back({.name = "recent", .key = "/recent"});
    cfg.collection = {"authors", "articles"};
    cfg.bind = {"tcp://*:5556", "tcp://*:5555"};
    ASSERT_TRUE(validate(cfg).empty());

    const auto tables = per_table(cfg);
    ASSERT_EQ(tables.size(), 2u);
    EXPECT_EQ(tables[0].collection, "authors");
    EXPECT_EQ(tables[0].bind, "tcp://*:5556");
    EXPECT_EQ(tables[0].cfg.table.qualified(), "public.authors");
    EXPECT_EQ(tables[0].cfg.order_by, "name");
    EXPECT_TRUE(tables[0].cfg.views.empty());
    EXPECT_EQ(tables[1].collection, "articles");
    EXPECT_EQ(tables[1].bind, "tcp://*:5555");
    EXPECT_EQ(tables[1].cfg.table.prefix, "/articles");
    ASSERT_EQ(tables[1].cfg.views.size(), 1u);
    EXPECT_EQ(tables[1].cfg.views[0].name, "recent");
}

TEST(WorkerConfig, OneTableFromTheOnlyCollectionOrFromTheFlags) {
    Config file;
    file.collections = {collection("authors")};
    ASSERT_TRUE(validate(file).empty());
    auto tables = per_table(file);
    ASSERT_EQ(tables.size(), 1u);
    EXPECT_EQ(tables[0].collection, "authors");
    EXPECT_EQ(tables[0].bind, Config{}.bind.front());

    Config flags;
    ASSERT_TRUE(validate(flags).empty());
    tables = per_table(flags);
    ASSERT_EQ(tables.size(), 1u);
    EXPECT_EQ(tables[0].collection, "");
    EXPECT_EQ(tables[0].cfg.table.qualified(), "public.articles");
}

TEST(WorkerConfig, EndpointsMustPairWithTheCollections) {
    struct Case {
        std::vector<std::string> collection, bind;
        std::string option;
    };
    const std::vector<Case> cases = {
        {{"articles", "authors"}, {"tcp://*:5555"}, "--bind"},
        {{"articles"}, {"tcp://*:5555", "tcp://*:5556"}, "--bind"},
        {{"articles", "authors"}, {"tcp://*:5555", "tcp://*:5555"}, "--bind"},
        {{"articles", "articles"}, {"tcp://*:5555", "tcp://*:5556"}, "--collection"},
        {{"articles", "notes"}, {"tcp://*:5555", "tcp://*:5556"}, "--collection"},
        {{}, {"tcp://*:5555"}, "--collection"},
    };
    for (const auto& c : cases) {
        Config cfg;
        cfg.collections = {collection("articles"), collection("authors")};
        cfg.collection = c.collection;
        cfg.bind = c.bind;
        const auto problems = validate(cfg);
        ASSERT_EQ(problems.size(), 1u) << c.option;
        EXPECT_EQ(problems[0].option, c.option) << problems[0].message;
    }
}

}  // namespace
}  // namespace revalidator::worker
