// Every worker setting is checked before the process starts: a bad value, from a flag,
// the environment or the config file, stops the real binary with exit code 64 (EX_USAGE) and a
// message naming the setting, before it connects to anything or logs "worker started".
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

#include "stack.hpp"

using namespace revalidator::testing;
using namespace std::chrono_literals;

TEST(WorkerOptions, BadValuesExit64BeforeStarting) {
    TempDir dir;
    const std::string file = dir.path() + "/worker.toml";
    std::ofstream(file) << "max-batch = 10\nno-such-setting = 1\n";
    const std::string two = dir.path() + "/two.toml";
    std::ofstream(two) << "[[collection]]\nname = \"articles\"\ntable = \"articles\"\n"
                          "[[collection]]\nname = \"authors\"\ntable = \"authors\"\n";
    const std::vector<BadConfiguration> cases = {
        {{"--bind", "tcp://x:notaport"}, "--bind"},
        {{"--bind", "inproc://w"}, "--bind"},
        {{"--memcached", "127.0.0.1:notaport"}, "--memcached"},
        {{"--postgres-url", "host=127.0.0.1 port"}, "--postgres-url"},
        {{"--order-by", "id; DROP TABLE articles"}, "--order-by"},
        {{"--prefix", "articles"}, "--prefix"},
        {{"--table", ""}, "--table"},
        {{"--max-batch", "0"}, "--max-batch"},
        {{"--max-pending", "0"}, "--max-pending"},
        {{"--receive-hwm", "0"}, "--receive-hwm"},
        {{"--resync-interval-s", "-1"}, "--resync-interval-s"},
        {{"--verify-rate", "-1"}, "--verify-rate"},
        {{"--verify-slice", "5"}, "--verify-slice"},
        {{"--verify-keys=maybe"}, "--verify-keys"},
        {{"--retry-max-ms", "5"}, "--retry-max-ms"},
        {{"--admin-port", "70000"}, "--admin-port"},
        {{"--cache-connections", "65"}, "--cache-connections"},
        {{"--log-level", "loud"}, "--log-level"},
        {{"--canary-interval-ms", "50"}, "--canary-interval-ms"},
        {{"--canary-postgres-url", "host=127.0.0.1 port"}, "--canary-postgres-url"},
        {{"--lease-ttl-ms", "2000", "--cache-timeout-ms", "1000"}, "--lease-ttl-ms"},
        {{"--curve-secret-key", "short"}, "--curve-secret-key"},
        {{}, "--max-batch", {"REVALIDATOR_MAX_BATCH=0"}},
        {{"--config", file}, "--no-such-setting"},
        {{"--no-such-option"}, "--no-such-option"},
        {{"--collection", "articles"}, "--collection"},
        {{"--config", two}, "--collection"},
        {{"--config", two, "--collection", "notes"}, "--collection"},
        {{"--config", two, "--collection", "authors", "--table", "authors"}, "--table"},
        {{"--config", two, "--collection", "articles,authors"}, "--bind"},
        {{"--config", two, "--collection", "articles,notes", "--bind", "tcp://*:5555,tcp://*:5556"},
         "--collection"},
        {{"--config", two, "--collection", "articles,articles", "--bind",
          "tcp://*:5555,tcp://*:5556"},
         "--collection"},
        {{"--config", two, "--collection", "articles,authors", "--bind",
          "tcp://*:5555,tcp://*:5555"},
         "--bind"},
        {{"--config", two, "--collection", "articles", "--bind", "tcp://*:5555,tcp://*:5556"},
         "--bind"},
    };
    int n = 0;
    for (const auto& c : cases) {
        expect_refused({WORKER_BIN, "--admin-port", "0"}, c,
                       dir.path() + "/worker" + std::to_string(++n) + ".log", "worker started");
    }
}

TEST(WorkerOptions, CheckConfigPrintsTheEffectiveConfigurationWithoutSecrets) {
    TempDir dir;
    const std::string file = dir.path() + "/worker.toml";
    std::ofstream(file) << "table = \"authors\"\nmax-batch = 500\n";
    const std::string log = dir.path() + "/check.log";
    EXPECT_EQ(run({WORKER_BIN, "--config", file, "--check-config", "--admin-secret", "hunter2",
                   "--prefix", "/authors"},
                  log),
              0)
        << read_file(log);
    const std::string out = read_file(log);
    EXPECT_NE(out.find("table = 'authors'  # file"), std::string::npos) << out;
    EXPECT_NE(out.find("max-batch = 500  # file"), std::string::npos) << out;
    EXPECT_NE(out.find("prefix = '/authors'  # flag"), std::string::npos) << out;
    EXPECT_NE(out.find("admin-secret = '********'  # flag"), std::string::npos) << out;
    EXPECT_EQ(out.find("hunter2"), std::string::npos) << out;
    EXPECT_EQ(out.find("worker started"), std::string::npos) << out;
}

// The file names the collections the worker serves as `serve` (in a file, `collection` is the
// [[collection]] tables), like any setting: --verify and --check-config read it, and the flag
// --collection overrides it.
TEST(WorkerOptions, TheFileNamesTheCollectionsItServes) {
    TempDir dir;
    const std::string file = dir.path() + "/worker.toml";
    std::ofstream(file)
        << "serve = [\"authors\"]\npostgres-url = \"postgresql://x@127.0.0.1:1/x\"\n"
           "pg-timeout-ms = 1000\n"
           "[[collection]]\nname = \"articles\"\ntable = \"articles\"\n"
           "[[collection]]\nname = \"authors\"\ntable = \"authors\"\n";
    const std::string check = dir.path() + "/check.log";
    ASSERT_EQ(run({WORKER_BIN, "--config", file, "--check-config"}, check), 0) << read_file(check);
    EXPECT_NE(read_file(check).find("\nserve = [ 'authors' ]  # file\n"), std::string::npos)
        << read_file(check);
    const std::string flag = dir.path() + "/flag.log";
    ASSERT_EQ(
        run({WORKER_BIN, "--config", file, "--check-config", "--collection", "articles"}, flag), 0)
        << read_file(flag);
    EXPECT_NE(read_file(flag).find("\nserve = [ 'articles' ]  # flag\n"), std::string::npos)
        << read_file(flag);
    // --verify, of two collections declared, serves the one the file names: it needs no
    // --collection and gets past the configuration (to a Postgres that is not there: exit 2).
    const std::string verify = dir.path() + "/verify.log";
    EXPECT_EQ(run({WORKER_BIN, "--config", file, "--verify"}, verify), 2) << read_file(verify);
    EXPECT_EQ(read_file(verify).find("--collection"), std::string::npos) << read_file(verify);
}

TEST(WorkerOptions, TheDeprecatedCacheConnectionsStartsWithAWarning) {
    TempDir dir;
    const std::string log = dir.path() + "/worker.log";
    // Nothing listens at these ports: the warning comes at start, before any server answers.
    Process worker(
        {WORKER_BIN, "--postgres-url", "host=127.0.0.1 port=" + std::to_string(free_port()),
         "--memcached", "127.0.0.1:" + std::to_string(free_port()), "--bind",
         "tcp://127.0.0.1:" + std::to_string(free_port()), "--admin-port", "0",
         "--cache-connections", "4"},
        log);
    EXPECT_TRUE(eventually(
        [&] {
            return read_file(log).find("--cache-connections is deprecated and ignored") !=
                   std::string::npos;
        },
        20s))
        << read_file(log);
    EXPECT_NE(read_file(log).find("worker started"), std::string::npos) << read_file(log);
    ::kill(worker.pid(), SIGTERM);
    EXPECT_EQ(worker.wait_for(20s), 0) << read_file(log);
}
