#include "config/config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "runtime/build_info.hpp"

using namespace revalidator;

namespace {

// A tiny process configuration, as the ingress and the worker declare theirs.
struct Settings {
    int port = 8080;
    std::string host = "127.0.0.1";
    std::vector<std::string> peers{"a"};
    bool verbose = false;
    config::Secret token;
    std::vector<Collection> collections;
    std::vector<std::string> served;  // as the worker's --collection
};

struct Outcome {
    std::optional<int> exit;
    std::string out;
    std::string err;
};

class ConfigTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("revalidator-config-test-" + std::to_string(getpid()));
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override {
        for (const char* v : {"REVALIDATOR_CT_PORT", "REVALIDATOR_CT_HOST", "REVALIDATOR_CONFIG"}) {
            unsetenv(v);
        }
        std::filesystem::remove_all(dir_);
    }

    std::string file(const std::string& name, const std::string& text) {
        auto path = dir_ / name;
        std::ofstream(path) << text;
        return path.string();
    }

    Outcome parse(
        std::vector<std::string> args, std::function<std::vector<config::Problem>()> validate = [] {
            return std::vector<config::Problem>{};
        }) {
        config::Parser parser("ct", "a test program");
        parser.option("--ct-port", s.port, "port")->check(CLI::Range(1, 65535));
        parser.option("--ct-host", s.host, "host");
        parser.option("--ct-peers", s.peers, "peers")->delimiter(',');
        parser.flag("--ct-verbose", s.verbose, "verbose");
        parser.secret("--ct-token", s.token, "token");
        parser.collections(s.collections, {"--ct-host"});
        parser.option("--collection,--serve", s.served, "served")->delimiter(',');
        args.insert(args.begin(), "ct");
        std::vector<const char*> argv;
        for (const auto& a : args) argv.push_back(a.c_str());
        testing::internal::CaptureStdout();
        testing::internal::CaptureStderr();
        Outcome r;
        r.exit = parser.parse(static_cast<int>(argv.size()), argv.data(), validate);
        r.out = testing::internal::GetCapturedStdout();
        r.err = testing::internal::GetCapturedStderr();
        return r;
    }

    Settings s;
    std::filesystem::path dir_;
};

TEST_F(ConfigTest, DefaultsStandWhenNothingIsGiven) {
    auto r = parse({});
    EXPECT_FALSE(r.exit.has_value()) << r.err;
    EXPECT_EQ(s.port, 8080);
    EXPECT_EQ(s.host, "127.0.0.1");
    EXPECT_EQ(s.peers, std::vector<std::string>{"a"});
}

TEST_F(ConfigTest, FlagBeatsEnvironmentBeatsFileBeatsDefault) {
    auto cfg = file("c.toml",
                    "ct-port = 1000\nct-host = \"file-host\"\nct-peers = [\"x\", \"y\"]\n"
                    "ct-verbose = true\n");
    setenv("REVALIDATOR_CT_PORT", "2000", 1);
    setenv("REVALIDATOR_CT_HOST", "env-host", 1);
    auto r = parse({"--config", cfg, "--ct-port", "3000"});
    ASSERT_FALSE(r.exit.has_value()) << r.err;
    EXPECT_EQ(s.port, 3000);
    EXPECT_EQ(s.host, "env-host");
    EXPECT_EQ(s.peers, (std::vector<std::string>{"x", "y"}));
    EXPECT_TRUE(s.verbose);
}

TEST_F(ConfigTest, TheFileIsNamedByTheEnvironmentToo) {
    setenv("REVALIDATOR_CONFIG", file("c.toml", "ct-port = 1234\n").c_str(), 1);
    auto r = parse({});
    ASSERT_FALSE(r.exit.has_value()) << r.err;
    EXPECT_EQ(s.port, 1234);
}

TEST_F(ConfigTest, EveryBadConfigurationExits64NamingTheSetting) {
    struct Case {
        std::string name;
        std::vector<std::string> args;
        std::string file;
        std::string expect;
    };
    const std::vector<Case> cases = {
        {"flag out of range", {"--ct-port", "0"}, "", "--ct-port"},
        {"flag not a number", {"--ct-port", "x"}, "", "--ct-port"},
        {"unknown flag", {"--ct-nope", "1"}, "", "--ct-nope"},
        {"file value out of range", {}, "ct-port = 70000\n", "--ct-port: "},
        {"file value of the wrong type", {}, "ct-port = \"many\"\n", "--ct-port: "},
        {"file key unknown", {}, "ct-nope = 1\n", "--ct-nope: "},
        {"file table where a value belongs", {}, "[ct-port]\nx = 1\n", "--ct-port: "},
        {"file not TOML", {}, "ct-port = = 1\n", "--config: "},
        {"file missing", {"--config", "/nonexistent/revalidator.toml"}, "", "cannot read"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        s = Settings{};
        auto args = c.args;
        if (!c.file.empty()) {
            args.push_back("--config");
            args.push_back(file("bad.toml", c.file));
        }
        auto r = parse(args);
        ASSERT_TRUE(r.exit.has_value());
        EXPECT_EQ(*r.exit, 64);
        EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
    }
}

TEST_F(ConfigTest, AFileProblemNamesTheFileAndLine) {
    auto path = file("lines.toml", "ct-host = \"h\"\n\nct-port = 0\n");
    auto r = parse({"--config", path});
    ASSERT_EQ(r.exit, 64);
    EXPECT_NE(r.err.find("--ct-port: " + path + ":3:"), std::string::npos) << r.err;
}

TEST_F(ConfigTest, CrossFieldProblemsFromValidateExit64) {
    auto r = parse({"--ct-port", "80"}, [&] {
        return std::vector<config::Problem>{{"--ct-host", "must be set when the port is 80"}};
    });
    ASSERT_EQ(r.exit, 64);
    EXPECT_NE(r.err.find("bad configuration: --ct-host: must be set when the port is 80"),
              std::string::npos)
        << r.err;
}

TEST_F(ConfigTest, ASecretComesFromItsFileAndNeverFromBoth) {
    auto secret = file("token", "s3cret\n\n");
    auto r = parse({"--ct-token-file", secret});
    ASSERT_FALSE(r.exit.has_value()) << r.err;
    EXPECT_EQ(s.token.value, "s3cret");

    s = Settings{};
    r = parse({"--ct-token-file", secret, "--ct-token", "other"});
    ASSERT_EQ(r.exit, 64);
    EXPECT_NE(r.err.find("--ct-token: give either --ct-token or --ct-token-file"),
              std::string::npos)
        << r.err;
}

TEST_F(ConfigTest, CheckConfigPrintsEverySettingWithItsSourceAndMasksSecrets) {
    setenv("REVALIDATOR_CT_HOST", "env-host", 1);
    auto cfg = file("c.toml", "ct-peers = [\"p\"]\n");
    auto r = parse({"--check-config", "--config", cfg, "--ct-port=9", "--ct-token", "hunter2"});
    ASSERT_EQ(r.exit, 0) << r.err;
    EXPECT_NE(r.out.find("ct-port = 9  # flag\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("ct-host = 'env-host'  # environment\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("ct-peers = [ 'p' ]  # file\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("ct-verbose = false  # default\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\n# ct-token = '********'  # flag, masked: give it again, or as "
                         "ct-token-file\n"),
              std::string::npos)
        << r.out;
    EXPECT_EQ(r.out.find("hunter2"), std::string::npos) << r.out;
}

// Read back, a secret's mask would be the secret, and a secret read from its file would be given
// twice (refused): the value is a comment, the file's name a setting.
TEST_F(ConfigTest, CheckConfigOfASecretFromItsFileReadsBack) {
    auto r = parse({"--check-config", "--ct-token-file", file("token", "s3cret\n")});
    ASSERT_EQ(r.exit, 0) << r.err;
    EXPECT_NE(r.out.find("\n# ct-token = '********'  # --ct-token-file\n"), std::string::npos)
        << r.out;
    s = Settings{};
    auto again = parse({"--config", file("again.toml", r.out)});
    ASSERT_FALSE(again.exit.has_value()) << again.err << "\n" << r.out;
    EXPECT_EQ(s.token.value, "s3cret");
}

TEST_F(ConfigTest, CheckConfigStillFailsOnABadConfiguration) {
    auto r = parse({"--check-config", "--ct-port", "0"});
    EXPECT_EQ(r.exit, 64);
    EXPECT_TRUE(r.out.empty()) << r.out;
}

// --version needs nothing else and checks nothing else: a bad value in the environment, a file
// that does not exist, a setting out of range or a failing cross-field rule do not stop it.
TEST_F(ConfigTest, VersionPrintsTheBuildAndExits0WhateverElseIsGiven) {
    setenv("REVALIDATOR_CT_PORT", "not-a-port", 1);
    bool validated = false;
    auto r =
        parse({"--ct-port", "0", "--config", (dir_ / "absent.toml").string(), "--version"}, [&] {
            validated = true;
            return std::vector<config::Problem>{{"--ct-host", "always wrong"}};
        });
    EXPECT_EQ(r.exit, 0) << r.err;
    EXPECT_EQ(r.out, build_info::line("ct") + "\n");
    EXPECT_TRUE(r.err.empty()) << r.err;
    EXPECT_FALSE(validated);
}

const char* const kTwoCollections = R"(ct-port = 9

[[collection]]
name = "articles"
table = "public.articles"
workers = ["tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556"]

[[collection]]
name = "authors"
table = "authors"
primary-key = "uuid"
prefix = "/people"
order-by = "name"
list = false
workers = ["ipc:///run/authors.sock"]

[[collection.view]]
name = "recent"
key = "/recent-authors"
filter = "bio IS NOT NULL"
order-by = "created_at DESC"
limit = 10
columns = ["uuid", "name"]
)";

TEST_F(ConfigTest, CollectionsComeFromTheFileWithTheirDefaults) {
    auto r = parse({"--config", file("c.toml", kTwoCollections)});
    ASSERT_FALSE(r.exit.has_value()) << r.err;
    EXPECT_EQ(s.port, 9);
    ASSERT_EQ(s.collections.size(), 2u);
    const auto& articles = s.collections[0];
    EXPECT_EQ(articles.name, "articles");
    EXPECT_EQ(articles.table.qualified(), "public.articles");
    EXPECT_EQ(articles.table.primary_key, "id");
    EXPECT_EQ(articles.table.prefix, "/articles");
    EXPECT_EQ(articles.order_by, "");
    EXPECT_TRUE(articles.list);
    EXPECT_EQ(articles.workers,
              (std::vector<std::string>{"tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556"}));
    const auto& authors = s.collections[1];
    EXPECT_EQ(authors.table.qualified(), "public.authors");
    EXPECT_EQ(authors.table.primary_key, "uuid");
    EXPECT_EQ(authors.table.prefix, "/people");
    EXPECT_EQ(authors.order_by, "name");
    EXPECT_FALSE(authors.list);
    EXPECT_EQ(authors.workers, std::vector<std::string>{"ipc:///run/authors.sock"});
    ASSERT_EQ(authors.views.size(), 1u);
    const auto& recent = authors.views[0];
    EXPECT_EQ(recent.name, "recent");
    EXPECT_EQ(recent.key, "/recent-authors");
    EXPECT_EQ(recent.filter, "bio IS NOT NULL");
    EXPECT_EQ(recent.order_by, "created_at DESC");
    EXPECT_EQ(recent.limit, 10u);
    EXPECT_EQ(recent.columns, (std::vector<std::string>{"uuid", "name"}));
    EXPECT_TRUE(articles.views.empty());
}

TEST_F(ConfigTest, EveryBadCollectionExits64NamingTheKeyAndItsLine) {
    struct Case {
        std::string name, toml, named, in_message;
    };
    const std::string ok = "name = \"a\"\ntable = \"a\"\n";
    const std::vector<Case> cases{
        {"not tables", "collection = 1\n", "collection", "[[collection]]"},
        {"no name", "[[collection]]\ntable = \"a\"\n", "collection.name", "c.toml:1"},
        {"bad name", "[[collection]]\nname = \"a b\"\ntable = \"a\"\n", "collection.name",
         "\"a b\""},
        {"no table", "[[collection]]\nname = \"a\"\n", "collection.table", "schema.table"},
        {"bad table", "[[collection]]\nname = \"a\"\ntable = \"x.y.z\"\n", "collection.table",
         "\"x.y.z\""},
        {"number table", "[[collection]]\nname = \"a\"\ntable = 7\n", "collection.table", "string"},
        {"unknown key", "[[collection]]\n" + ok + "views = \"v\"\n", "collection.views",
         "no such key"},
        {"view not a table", "[[collection]]\n" + ok + "view = \"v\"\n", "collection.view",
         "[[collection.view]]"},
        {"bad prefix", "[[collection]]\n" + ok + "prefix = \"a\"\n", "collection.prefix",
         "start with '/'"},
        {"empty primary key", "[[collection]]\n" + ok + "primary-key = \"\"\n",
         "collection.primary-key", "empty"},
        {"bad order", "[[collection]]\n" + ok + "order-by = \"title; DROP\"\n",
         "collection.order-by", "title"},
        {"bad endpoint", "[[collection]]\n" + ok + "workers = [\"tcp://x\"]\n",
         "collection.workers", "tcp://x"},
        {"list not a boolean", "[[collection]]\n" + ok + "list = \"no\"\n", "collection.list",
         "true or false"},
        {"workers not an array", "[[collection]]\n" + ok + "workers = \"tcp://a:1\"\n",
         "collection.workers", "array"},
        {"same name", "[[collection]]\n" + ok + "[[collection]]\nname = \"a\"\ntable = \"b\"\n",
         "collection.name", "same name"},
        {"same table",
         "[[collection]]\n" + ok + "[[collection]]\nname = \"b\"\ntable = \"public.a\"\n",
         "collection.table", "public.a"},
        {"view without a key", "[[collection]]\n" + ok + "[[collection.view]]\nname = \"v\"\n",
         "collection.view.key", "view 1: is missing"},
        {"view inside the collection's keys",
         "[[collection]]\n" + ok + "[[collection.view]]\nname = \"v\"\nkey = \"/a/v\"\n",
         "collection.view.key", "collides with collection \"a\""},
        {"two views at one key",
         "[[collection]]\n" + ok +
             "[[collection.view]]\nname = \"v\"\nkey = \"/v\"\n[[collection.view]]\nname = "
             "\"w\"\nkey = \"/v\"\n",
         "collection.view.key", "view \"w\""},
        {"view limit",
         "[[collection]]\n" + ok + "[[collection.view]]\nname = \"v\"\nkey = \"/v\"\nlimit = 0\n",
         "collection.view.limit", "from 1"},
        {"view columns",
         "[[collection]]\n" + ok +
             "[[collection.view]]\nname = \"v\"\nkey = \"/v\"\ncolumns = []\n",
         "collection.view.columns", "non-empty"},
        {"view order",
         "[[collection]]\n" + ok +
             "[[collection.view]]\nname = \"v\"\nkey = \"/v\"\norder-by = \"x y z\"\n",
         "collection.view.order-by", "x y z"},
        {"view unknown key",
         "[[collection]]\n" + ok +
             "[[collection.view]]\nname = \"v\"\nkey = \"/v\"\nwhere = \"x\"\n",
         "collection.view.where", "no such key"},
        {"prefix inside another's keys",
         "[[collection]]\n" + ok +
             "[[collection]]\nname = \"b\"\ntable = \"b\"\nprefix = \"/a/drafts\"\n",
         "collection.prefix", "\"/a/drafts\""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        s.collections.clear();
        auto r = parse({"--config", file("c.toml", c.toml)});
        EXPECT_EQ(r.exit, 64);
        EXPECT_NE(r.err.find("bad configuration: " + c.named + ": "), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(c.in_message), std::string::npos) << r.err;
    }
}

TEST_F(ConfigTest, CollectionsAndTheFlagsTheyReplaceAreNeverBoth) {
    const auto cfg = file("c.toml", kTwoCollections);
    auto by_flag = parse({"--config", cfg, "--ct-host", "h"});
    EXPECT_EQ(by_flag.exit, 64);
    EXPECT_NE(by_flag.err.find("--ct-host: is set (flag)"), std::string::npos) << by_flag.err;
    s.collections.clear();
    setenv("REVALIDATOR_CT_HOST", "h", 1);
    auto by_env = parse({"--config", cfg});
    EXPECT_EQ(by_env.exit, 64);
    EXPECT_NE(by_env.err.find("--ct-host: is set (environment)"), std::string::npos) << by_env.err;
}

TEST_F(ConfigTest, CheckConfigPrintsTheCollectionsSoThatTheOutputReadsBack) {
    auto r = parse({"--check-config", "--config", file("c.toml", kTwoCollections), "--collection",
                    "articles,authors"});
    ASSERT_EQ(r.exit, 0) << r.err;
    EXPECT_NE(r.out.find("# ct-host = '127.0.0.1'  # default, replaced by [[collection]]\n"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("\nserve = [ 'articles', 'authors' ]  # flag\n"), std::string::npos)
        << r.out;
    const auto first = s.collections;
    s = Settings{};
    auto again = parse({"--config", file("again.toml", r.out)});
    ASSERT_FALSE(again.exit.has_value()) << again.err << "\n" << r.out;
    ASSERT_EQ(s.collections.size(), first.size());
    for (std::size_t i = 0; i < first.size(); ++i) {
        EXPECT_EQ(s.collections[i].name, first[i].name);
        EXPECT_EQ(s.collections[i].table.qualified(), first[i].table.qualified());
        EXPECT_EQ(s.collections[i].table.primary_key, first[i].table.primary_key);
        EXPECT_EQ(s.collections[i].table.prefix, first[i].table.prefix);
        EXPECT_EQ(s.collections[i].order_by, first[i].order_by);
        EXPECT_EQ(s.collections[i].list, first[i].list);
        EXPECT_EQ(s.collections[i].workers, first[i].workers);
        ASSERT_EQ(s.collections[i].views.size(), first[i].views.size());
        for (std::size_t v = 0; v < first[i].views.size(); ++v) {
            const auto &a = s.collections[i].views[v], &b = first[i].views[v];
            EXPECT_EQ(a.name, b.name);
            EXPECT_EQ(a.key, b.key);
            EXPECT_EQ(a.filter, b.filter);
            EXPECT_EQ(a.order_by, b.order_by);
            EXPECT_EQ(a.limit, b.limit);
            EXPECT_EQ(a.columns, b.columns);
        }
    }
    EXPECT_EQ(s.port, 9);
    EXPECT_EQ(s.served, (std::vector<std::string>{"articles", "authors"}));
}

// In a file, `collection` is the [[collection]] tables; the served ones are `serve`, which the
// flag --collection and REVALIDATOR_COLLECTION override as any setting's key.
TEST_F(ConfigTest, TheServedCollectionsAreAFileKeyToo) {
    const auto cfg = file("c.toml", std::string("serve = [\"authors\"]\n") + kTwoCollections);
    auto r = parse({"--check-config", "--config", cfg});
    ASSERT_EQ(r.exit, 0) << r.err;
    EXPECT_EQ(s.served, std::vector<std::string>{"authors"});
    EXPECT_NE(r.out.find("\nserve = [ 'authors' ]  # file\n"), std::string::npos) << r.out;
    EXPECT_EQ(s.collections.size(), 2u);

    s = Settings{};
    r = parse({"--config", cfg, "--collection", "articles"});
    ASSERT_FALSE(r.exit.has_value()) << r.err;
    EXPECT_EQ(s.served, std::vector<std::string>{"articles"});
}

TEST_F(ConfigTest, TheEnvironmentNameFollowsTheFlag) {
    EXPECT_EQ(config::env_name("--max-body-bytes"), "REVALIDATOR_MAX_BODY_BYTES");
    EXPECT_EQ(config::env_name("--secret-file"), "REVALIDATOR_SECRET_FILE");
    EXPECT_EQ(config::env_name("--collection,--serve"), "REVALIDATOR_COLLECTION");
}

}  // namespace
