// Every ingress option is checked before the process serves: a bad value, from a flag or
// from its environment variable, stops the real binary with exit code 64 (EX_USAGE) and a message
// naming the option, before "ingress listening" is ever logged. Good values still start it.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

#include "stack.hpp"

using namespace revalidator::testing;
using namespace std::chrono_literals;

namespace {

// Auth and a free port, so that only the option under test can be wrong.
std::vector<std::string> with_defaults(std::vector<std::string> args) {
    args.insert(args.begin(), {"--insecure-no-auth", "--port", "0"});
    return args;
}

}  // namespace

TEST(IngressOptions, BadValuesExit64BeforeServing) {
    TempDir dir;
    const std::string no_workers = dir.path() + "/no-workers.toml";
    std::ofstream(no_workers) << "[[collection]]\nname = \"authors\"\ntable = \"authors\"\n";
    const std::string reads_on_probe = dir.path() + "/reads-on-probe.toml";
    std::ofstream(reads_on_probe) << "[[collection]]\nname = \"h\"\ntable = \"h\"\nprefix = "
                                     "\"/healthz\"\nworkers = [\"tcp://127.0.0.1:5555\"]\n";
    const std::vector<BadConfiguration> cases = {
        {with_defaults({"--worker-endpoint", "tcp://x:notaport"}), "--worker-endpoint"},
        {with_defaults({"--worker-endpoint", "tcp://127.0.0.1:5555,tcp://x:notaport"}),
         "--worker-endpoint"},
        {with_defaults({"--worker-endpoint", "tcp://127.0.0.1:0"}), "--worker-endpoint"},
        {with_defaults({"--worker-endpoint", "tcp://127.0.0.1:65536"}), "--worker-endpoint"},
        {with_defaults({"--worker-endpoint", "tcp://127.0.0.1:+5555"}), "--worker-endpoint"},
        {with_defaults({"--worker-endpoint", "tcp://:5555"}), "--worker-endpoint"},
        {with_defaults({"--worker-endpoint", "tcp://127.0.0.1"}), "--worker-endpoint"},
        {with_defaults({"--worker-endpoint", "127.0.0.1:5555"}), "--worker-endpoint"},
        {with_defaults({"--worker-endpoint", "inproc://worker"}), "--worker-endpoint"},
        {with_defaults({"--worker-endpoint", "ipc://"}), "--worker-endpoint"},
        {with_defaults({}), "--worker-endpoint", {"REVALIDATOR_WORKER_ENDPOINT=tcp://x:notaport"}},
        {with_defaults({"--send-hwm", "-1"}), "--send-hwm"},
        {with_defaults({"--send-hwm", "0"}), "--send-hwm"},
        {with_defaults({}), "--send-hwm", {"REVALIDATOR_SEND_HWM=-1"}},
        {with_defaults({"--queue-capacity", "0"}), "--queue-capacity"},
        {with_defaults({"--queue-capacity", "-5"}), "--queue-capacity"},
        {with_defaults({"--http-threads", "-1"}), "--http-threads"},
        {with_defaults({"--http-threads", "100000"}), "--http-threads"},
        {with_defaults({"--drain-timeout-ms", "-1"}), "--drain-timeout-ms"},
        {{"--insecure-no-auth", "--port", "70000"}, "--port"},
        {{"--insecure-no-auth", "--port", "-1"}, "--port"},
        {with_defaults({"--log-level", "loud"}), "--log-level"},
        {with_defaults({"--instance-id", ""}), "--instance-id"},
        // Options that were already checked before keep their checks, now with exit code 64 too.
        {with_defaults({"--max-connections", "0"}), "--max-connections"},
        {with_defaults({"--signature-tolerance-s", "0"}), "--signature-tolerance-s"},
        {with_defaults({"--no-such-option"}), "--no-such-option"},
        {{"--port", "0"}, "--secret"},
        // The read routes.
        {with_defaults({"--memcached", "127.0.0.1:notaport"}), "--memcached"},
        {with_defaults({"--memcached", "127.0.0.1", "--prefix", "/revalidate"}), "--prefix"},
        {with_defaults({"--memcached", "127.0.0.1", "--prefix", "/metrics"}), "--prefix"},
        {with_defaults({"--prefix", "articles"}), "--prefix"},
        {{"--port", "0", "--secret", "same", "--read-secret", "same"}, "--read-secret"},
        {with_defaults({"--read-threads", "0"}), "--read-threads"},
        {with_defaults({"--read-queue", "0"}), "--read-queue"},
        {with_defaults({"--read-batch", "0"}), "--read-batch"},
        {with_defaults({"--read-fill-wait-ms", "-1"}), "--read-fill-wait-ms"},
        {with_defaults({"--read-timeout-ms", "0"}), "--read-timeout-ms"},
        {with_defaults({"--read-postgres-url", "host=127.0.0.1"}), "--read-postgres-url"},
        {with_defaults({"--memcached", "127.0.0.1", "--read-postgres-url", "port=notaport x"}),
         "--read-postgres-url"},
        {with_defaults({"--read-postgres-pool", "0"}), "--read-postgres-pool"},
        {with_defaults({"--read-postgres-timeout-ms", "0"}), "--read-postgres-timeout-ms"},
        {with_defaults({"--config", no_workers}), "collection.workers"},
        {with_defaults({"--config", no_workers, "--worker-endpoint", "tcp://127.0.0.1:5555"}),
         "--worker-endpoint"},
        {with_defaults({"--config", reads_on_probe, "--memcached", "127.0.0.1"}),
         "collection.prefix"},
    };
    int n = 0;
    for (const auto& c : cases) {
        expect_refused({INGRESS_BIN}, c, dir.path() + "/ingress" + std::to_string(++n) + ".log",
                       "listening");
    }
}

TEST(IngressOptions, GoodValuesStillServe) {
    TempDir dir;
    EXPECT_EQ(run({INGRESS_BIN, "--help"}, dir.path() + "/help.log"), 0);

    const std::string log = dir.path() + "/ingress.log";
    Process p({INGRESS_BIN, "--insecure-no-auth", "--port", "0", "--worker-endpoint",
               "tcp://127.0.0.1:5555,tcp://localhost:65535,tcp://[::1]:1,ipc://" + dir.path() +
                   "/worker.ipc",
               "--send-hwm", "1", "--queue-capacity", "1", "--http-threads", "0",
               "--drain-timeout-ms", "0", "--log-level", "info", "--instance-id", "a"},
              log);
    EXPECT_TRUE(eventually([&] {
        return read_file(log).find("ingress listening") != std::string::npos;
    })) << read_file(log);
    EXPECT_EQ(p.stop(SIGTERM), 0) << read_file(log);
}

TEST(IngressOptions, CheckConfigPrintsTheEffectiveConfigurationWithoutSecrets) {
    TempDir dir;
    const std::string file = dir.path() + "/ingress.toml";
    std::ofstream(file) << "instance-id = \"from-file\"\nqueue-capacity = 7\nport = 1\n";
    const std::string log = dir.path() + "/check.log";
    EXPECT_EQ(
        run({INGRESS_BIN, "--config", file, "--check-config", "--port", "9", "--secret", "hunter2"},
            log),
        0)
        << read_file(log);
    const std::string out = read_file(log);
    EXPECT_NE(out.find("port = 9  # flag"), std::string::npos) << out;
    EXPECT_NE(out.find("instance-id = 'from-file'  # file"), std::string::npos) << out;
    EXPECT_NE(out.find("queue-capacity = 7  # file"), std::string::npos) << out;
    EXPECT_NE(out.find("secret = '********'  # flag"), std::string::npos) << out;
    EXPECT_EQ(out.find("hunter2"), std::string::npos) << out;
    EXPECT_EQ(out.find("listening"), std::string::npos) << out;
}

TEST(IngressOptions, ABadConfigFileExits64NamingTheSettingAndLine) {
    TempDir dir;
    const std::string file = dir.path() + "/ingress.toml";
    std::ofstream(file) << "insecure-no-auth = true\n\nsend-hwm = 0\n";
    const std::string log = dir.path() + "/bad.log";
    EXPECT_EQ(run({INGRESS_BIN, "--config", file, "--port", "0"}, log), 64) << read_file(log);
    const std::string out = read_file(log);
    EXPECT_NE(out.find("--send-hwm: " + file + ":3:"), std::string::npos) << out;
    EXPECT_EQ(out.find("listening"), std::string::npos) << out;
}
