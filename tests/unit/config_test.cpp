#include "config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace revalidator;

namespace {

// A tiny process configuration, as the ingress and the worker declare theirs.
struct Settings {
    int port = 8080;
    std::string host = "127.0.0.1";
    std::vector<std::string> peers{"a"};
    bool verbose = false;
    config::Secret token;
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
        config::Parser parser("ct: a test program");
        parser.option("--ct-port", s.port, "port")->check(CLI::Range(1, 65535));
        parser.option("--ct-host", s.host, "host");
        parser.option("--ct-peers", s.peers, "peers")->delimiter(',');
        parser.flag("--ct-verbose", s.verbose, "verbose");
        parser.secret("--ct-token", s.token, "token");
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
    EXPECT_NE(r.out.find("ct-token = '********'  # flag\n"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("hunter2"), std::string::npos) << r.out;
}

TEST_F(ConfigTest, CheckConfigStillFailsOnABadConfiguration) {
    auto r = parse({"--check-config", "--ct-port", "0"});
    EXPECT_EQ(r.exit, 64);
    EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST_F(ConfigTest, TheEnvironmentNameFollowsTheFlag) {
    EXPECT_EQ(config::env_name("--max-body-bytes"), "REVALIDATOR_MAX_BODY_BYTES");
    EXPECT_EQ(config::env_name("--secret-file"), "REVALIDATOR_SECRET_FILE");
}

}  // namespace
