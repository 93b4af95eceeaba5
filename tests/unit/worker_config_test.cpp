// Which tables a worker serves, and with which endpoint: validate() and per_table() over a Config
// as the parser leaves it (the checks of each value alone are worker_options_test's); and the
// CURVE public key validate() derives.
#include "worker_config.hpp"

#include <gtest/gtest.h>

namespace revalidator::worker {
namespace {

// The unit tests link no ZeroMQ: these stand for libzmq with and without CURVE support.
std::string derived_key(const std::string&) {
    return "derived public key";
}
std::string no_curve(const std::string&) {
    return "";
}

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
    cfg.collections[0].list = false;
    cfg.collection = {"authors", "articles"};
    cfg.bind = {"tcp://*:5556", "tcp://*:5555"};
    ASSERT_TRUE(validate(cfg, derived_key).empty());

    const auto tables = per_table(cfg);
    ASSERT_EQ(tables.size(), 2u);
    EXPECT_EQ(tables[0].collection, "authors");
    EXPECT_EQ(tables[0].bind, "tcp://*:5556");
    EXPECT_EQ(tables[0].cfg.table.qualified(), "public.authors");
    EXPECT_EQ(tables[0].cfg.order_by, "name");
    EXPECT_TRUE(tables[0].cfg.views.empty());
    EXPECT_TRUE(tables[0].cfg.list);
    EXPECT_TRUE(applier_config(tables[0].cfg).list);
    EXPECT_EQ(tables[1].collection, "articles");
    EXPECT_EQ(tables[1].bind, "tcp://*:5555");
    EXPECT_EQ(tables[1].cfg.table.prefix, "/articles");
    ASSERT_EQ(tables[1].cfg.views.size(), 1u);
    EXPECT_EQ(tables[1].cfg.views[0].name, "recent");
    EXPECT_FALSE(tables[1].cfg.list);
    EXPECT_FALSE(applier_config(tables[1].cfg).list);
}

TEST(WorkerConfig, OneTableFromTheOnlyCollectionOrFromTheFlags) {
    Config file;
    file.collections = {collection("authors")};
    ASSERT_TRUE(validate(file, derived_key).empty());
    auto tables = per_table(file);
    ASSERT_EQ(tables.size(), 1u);
    EXPECT_EQ(tables[0].collection, "authors");
    EXPECT_EQ(collection_label(tables[0]), "authors");
    EXPECT_EQ(tables[0].bind, Config{}.bind.front());

    Config flags;
    ASSERT_TRUE(validate(flags, derived_key).empty());
    tables = per_table(flags);
    ASSERT_EQ(tables.size(), 1u);
    EXPECT_EQ(tables[0].collection, "");
    EXPECT_EQ(collection_label(tables[0]), "articles") << "named as the ingress names it";
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
        const auto problems = validate(cfg, derived_key);
        ASSERT_EQ(problems.size(), 1u) << c.option;
        EXPECT_EQ(problems[0].option, c.option) << problems[0].message;
    }
}

// The canary is named as the ingress names the collection's lane: the collection, or the
// table's name for a worker configured by the table flags; its options are checked at start.
TEST(WorkerConfig, TheCanaryIsNamedAsTheIngressNamesTheCollection) {
    Config flags;
    flags.canary_interval_ms = 1000;
    ASSERT_TRUE(validate(flags, derived_key).empty());
    EXPECT_EQ(canary_config(per_table(flags).front()).name, "articles");
    EXPECT_EQ(canary_config(per_table(flags).front()).interval, std::chrono::milliseconds(1000));

    Config file;
    file.collections = {collection("articles"), collection("authors")};
    file.collection = {"authors"};
    ASSERT_TRUE(validate(file, derived_key).empty());
    EXPECT_EQ(canary_config(per_table(file).front()).name, "authors");

    Config fast;
    fast.canary_interval_ms = 50;
    auto problems = validate(fast, derived_key);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].option, "--canary-interval-ms");
    Config bad_url;
    bad_url.canary_postgres_url = "host=127.0.0.1 port";
    problems = validate(bad_url, derived_key);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].option, "--canary-postgres-url");
}

TEST(WorkerConfig, TheCurveSecretKeyGivesThePublicKeyOrSaysCurveIsMissing) {
    Config plain;
    ASSERT_TRUE(validate(plain, no_curve).empty()) << "no key, no need for CURVE";
    EXPECT_EQ(plain.curve_public_key, "");

    Config curve;
    curve.curve_secret_key.value = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";
    ASSERT_TRUE(validate(curve, derived_key).empty());
    EXPECT_EQ(curve.curve_public_key, "derived public key");
    EXPECT_EQ(per_table(curve).front().cfg.curve_public_key, "derived public key");

    curve.curve_public_key.clear();
    const auto problems = validate(curve, no_curve);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].option, "--curve-secret-key");
    EXPECT_EQ(problems[0].message, "this libzmq was built without CURVE support");
}

}  // namespace
}  // namespace revalidator::worker
