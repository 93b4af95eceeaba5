// --check-config prints a configuration file (docs/configuration.md): given back with --config,
// the real binaries read it as the same configuration and print it again, exit 0. Secrets given
// as values are printed masked, as comments, and so are given again; a secret's -file reads back.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "stack.hpp"

using namespace revalidator::testing;

namespace {

// The printed configuration without what may differ between the two runs: the name of the file
// and where each value came from (the comment after it).
std::string settings_of(const std::string& printed) {
    std::istringstream in(printed);
    std::string out, line;
    while (std::getline(in, line)) {
        if (line.starts_with("# file: ")) continue;
        if (auto source = line.rfind("  # "); source != std::string::npos) line.resize(source);
        out += line + "\n";
    }
    return out;
}

// --check-config with `args`, its output as a file, then --config that file with `again` (the
// secrets given as values): both exit 0 and print the same settings.
void expect_round_trip(const std::string& bin, const TempDir& dir, const std::string& name,
                       std::vector<std::string> args, const std::vector<std::string>& again = {},
                       const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), {bin, "--check-config"});
    const std::string first = dir.path() + "/" + name + "-first.log";
    ASSERT_EQ(run(args, first, {.extra_env = env}), 0) << read_file(first);
    const std::string file = dir.path() + "/" + name + ".toml";
    std::ofstream(file) << read_file(first);
    std::vector<std::string> back{bin, "--config", file, "--check-config"};
    back.insert(back.end(), again.begin(), again.end());
    const std::string second = dir.path() + "/" + name + "-second.log";
    ASSERT_EQ(run(back, second, {.extra_env = env}), 0) << read_file(second) << "\nreading back:\n"
                                                        << read_file(first);
    EXPECT_EQ(settings_of(read_file(second)), settings_of(read_file(first))) << name;
}

const char* const kCollections = R"toml([[collection]]
name = "articles"
table = "public.articles"
workers = ["tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556"]

[[collection.view]]
name = "published"
key = "/published-articles"
filter = "published_at <= now()"
order-by = "published_at DESC"
limit = 50
columns = ["id", "title"]

[[collection]]
name = "authors"
table = "authors"
primary-key = "uuid"
prefix = "/people"
order-by = "name"
workers = ["ipc:///tmp/authors.sock"]
)toml";

// A CURVE key pair as the worker makes them. The secret key is checked, so a mask read back as the
// key itself would be refused.
struct CurveKeys {
    std::string public_key, secret_key;
};
CurveKeys curve_keys(const TempDir& dir) {
    const std::string log = dir.path() + "/keypair.log";
    EXPECT_EQ(run({WORKER_BIN, "--generate-curve-keypair"}, log), 0) << read_file(log);
    const std::string out = read_file(log);
    auto field = [&](const std::string& name) {
        const auto at = out.find(name + "=");
        return at == std::string::npos ? "" : out.substr(at + name.size() + 1, 40);
    };
    return {field("public"), field("secret")};
}

}  // namespace

TEST(ConfigRoundTrip, TheIngressReadsBackWhatItPrints) {
    TempDir dir;
    const std::string secret = dir.path() + "/secret";
    std::ofstream(secret) << "hunter2\n";
    const std::string signing = dir.path() + "/signing-secret";
    std::ofstream(signing) << "whsec_c2lnbmluZy1zZWNyZXQtb2YtdGhlLXRlc3Q=\n";
    const std::string collections = dir.path() + "/collections.toml";
    std::ofstream(collections) << "queue-capacity = 7\n" << kCollections;
    const auto keys = curve_keys(dir);
    ASSERT_EQ(keys.secret_key.size(), 40u);

    expect_round_trip(INGRESS_BIN, dir, "defaults", {"--insecure-no-auth"});
    expect_round_trip(INGRESS_BIN, dir, "flags",
                      {"--port", "9", "--worker-endpoint", "tcp://127.0.0.1:5555,ipc:///tmp/w",
                       "--secret-file", secret, "--memcached", "127.0.0.1:11211,127.0.0.1:11212",
                       "--read-postgres-url", "postgresql://reader@127.0.0.1/app", "--prefix",
                       "/notes", "--read-cache-control", "public, max-age=5"});
    expect_round_trip(INGRESS_BIN, dir, "secrets",
                      {"--secret", "hunter2", "--signing-secret-file", signing,
                       "--curve-server-key", keys.public_key},
                      {"--secret", "hunter2"}, {"REVALIDATOR_CURVE_SECRET_KEY=" + keys.secret_key});
    expect_round_trip(
        INGRESS_BIN, dir, "collections",
        {"--config", collections, "--secret-file", secret, "--memcached", "127.0.0.1:11211"});
}

TEST(ConfigRoundTrip, TheWorkerReadsBackWhatItPrints) {
    TempDir dir;
    const std::string secret = dir.path() + "/admin-secret";
    std::ofstream(secret) << "hunter2\n";
    const std::string collections = dir.path() + "/collections.toml";
    std::ofstream(collections) << "max-batch = 500\n" << kCollections;
    const auto keys = curve_keys(dir);
    ASSERT_EQ(keys.secret_key.size(), 40u);
    const std::string key_file = dir.path() + "/curve-secret";
    std::ofstream(key_file) << keys.secret_key << "\n";

    expect_round_trip(WORKER_BIN, dir, "defaults", {});
    expect_round_trip(
        WORKER_BIN, dir, "flags",
        {"--postgres-url", "postgresql://w@127.0.0.1:5433/app", "--memcached",
         "127.0.0.1:11211,127.0.0.1:11212", "--table", "notes", "--order-by",
         "published_at DESC, id", "--verify-keys=false", "--admin-secret-file", secret});
    expect_round_trip(WORKER_BIN, dir, "secrets", {"--admin-secret", "hunter2"},
                      {"--admin-secret", "hunter2"},
                      {"REVALIDATOR_CURVE_SECRET_KEY=" + keys.secret_key});
    expect_round_trip(WORKER_BIN, dir, "one-of-two",
                      {"--config", collections, "--collection", "authors"});
    expect_round_trip(WORKER_BIN, dir, "both",
                      {"--config", collections, "--collection", "articles,authors", "--bind",
                       "tcp://*:5555,tcp://*:5556", "--curve-secret-key-file", key_file});
}
