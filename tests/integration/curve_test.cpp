// ZeroMQ CURVE between ingress and worker: with matching keys events flow; with a wrong server key
// the handshake fails, nothing reaches the worker and the ingress reports no connected worker. Plus
// the startup checks on the key options and the worker's key generator.
#include <gtest/gtest.h>
#include <zmq.h>

#include <sys/wait.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include "stack.hpp"

using namespace revalidator::testing;

namespace {

struct Keypair {
    std::string public_key, secret_key;
};

Keypair keypair() {
    char pub[41] = {}, sec[41] = {};
    if (zmq_curve_keypair(pub, sec) != 0) throw std::runtime_error("zmq_curve_keypair failed");
    return {pub, sec};
}

// Runs a binary to completion; its exit code and everything it printed.
std::pair<int, std::string> run_logged(const TempDir& dir, std::vector<std::string> argv) {
    static int n = 0;
    const std::string log = dir.path() + "/run" + std::to_string(++n) + ".log";
    int code = run(std::move(argv), log);
    return {code, read_file(log)};
}

class Curve : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_TRUE(zmq_has("curve")) << "this libzmq has no CURVE support"; }
    void TearDown() override {
        if (HasFailure() && stack) std::cerr << stack->diagnostics() << "\n";
    }
    std::unique_ptr<Stack> stack;
    TempDir dir;
};

}  // namespace

TEST_F(Curve, EncryptedLinkDeliversEvents) {
    Keypair server = keypair(), client = keypair();
    stack = std::make_unique<Stack>(
        StackOptions{.worker_args = {"--curve-secret-key", server.secret_key},
                     .ingress_args = {"--curve-server-key", server.public_key, "--curve-secret-key",
                                      client.secret_key}});
    ASSERT_TRUE(eventually([&] { return stack->ingress_worker_peers() == 1; }));
    stack->sql(
        "UPDATE public.articles SET title = 'Over CURVE', version = version + 1 WHERE id = 2");
    auto res = stack->webhook(stack->webhook_for("UPDATE", "2"));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 202);
    ASSERT_TRUE(stack->converges("2"));
    EXPECT_NE(stack->cache_get("/articles/2")->find("Over CURVE"), std::string::npos);
    EXPECT_GT(stack->worker_metric("revalidator_worker_events_total{collection=\"articles\"}"), 0);

    // Stopped here (the Stack then skips them) so that the logs are complete when read.
    int ingress_status = stack->ingress().stop(SIGTERM);
    int worker_status = stack->worker().stop(SIGTERM);
    EXPECT_TRUE(WIFEXITED(ingress_status) && WEXITSTATUS(ingress_status) == 0);
    EXPECT_TRUE(WIFEXITED(worker_status) && WEXITSTATUS(worker_status) == 0);
    std::string worker_log = read_file(stack->worker().log_path());
    std::string ingress_log = read_file(stack->ingress().log_path());
    for (const auto& log : {worker_log, ingress_log}) {
        EXPECT_EQ(log.find(server.secret_key), std::string::npos) << "a secret key was logged";
        EXPECT_EQ(log.find(client.secret_key), std::string::npos) << "a secret key was logged";
    }
    // The worker logs its public key, so an operator can check what the ingresses must be given.
    EXPECT_NE(worker_log.find(server.public_key), std::string::npos) << worker_log;
}

namespace {

// Events are acknowledged and queued by the ingress but never reach the worker, and the ingress
// says it has no worker.
void expect_nothing_delivered(Stack& s) {
    ASSERT_EQ(s.active_worker(), 0) << "the worker must be up and active for this to mean anything";
    auto res = s.webhook(s.webhook_for("UPDATE", "1"));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 202);
    bool received = eventually(
        [&] {
            return s.worker_metric("revalidator_worker_events_total{collection=\"articles\"}") > 0;
        },
        std::chrono::seconds(2));
    EXPECT_FALSE(received);
    EXPECT_EQ(s.worker_metric("revalidator_worker_events_total{collection=\"articles\"}"), 0);
    EXPECT_TRUE(s.worker().alive());
    EXPECT_EQ(s.ingress_worker_peers(), 0);
    // The publisher holds the event, waiting for a worker that completes the handshake.
    EXPECT_EQ(s.ingress_metric(R"(revalidator_ingress_events_sent_total{collection="articles"})"),
              0);
}

}  // namespace

TEST_F(Curve, WrongServerKeyDeliversNothing) {
    Keypair server = keypair(), impostor = keypair(), client = keypair();
    stack = std::make_unique<Stack>(StackOptions{
        .worker_args = {"--curve-secret-key", server.secret_key},
        .ingress_args = {"--curve-server-key", impostor.public_key, "--curve-secret-key",
                         client.secret_key, "--drain-timeout-ms", "200"}});
    expect_nothing_delivered(*stack);
}

TEST_F(Curve, PlaintextIngressIsRefusedByCurveWorker) {
    Keypair server = keypair();
    stack = std::make_unique<Stack>(
        StackOptions{.worker_args = {"--curve-secret-key", server.secret_key},
                     .ingress_args = {"--drain-timeout-ms", "200"}});
    expect_nothing_delivered(*stack);
}

// Startup checks: no Postgres needed, the binaries refuse to start before touching anything.
TEST_F(Curve, IngressNeedsBothKeys) {
    Keypair server = keypair(), client = keypair();
    auto [code, out] = run_logged(
        dir, {INGRESS_BIN, "--insecure-no-auth", "--curve-server-key", server.public_key});
    EXPECT_NE(code, 0);
    EXPECT_NE(out.find("--curve-secret-key"), std::string::npos) << out;

    std::tie(code, out) = run_logged(
        dir, {INGRESS_BIN, "--insecure-no-auth", "--curve-secret-key", client.secret_key});
    EXPECT_NE(code, 0);
    EXPECT_NE(out.find("--curve-server-key"), std::string::npos) << out;
    EXPECT_EQ(out.find(client.secret_key), std::string::npos) << "the secret was printed";
}

TEST_F(Curve, MalformedKeysAreRejectedWithoutPrintingThem) {
    Keypair server = keypair(), client = keypair();
    std::string short_secret = client.secret_key.substr(0, 39);
    auto [code, out] = run_logged(dir, {INGRESS_BIN, "--insecure-no-auth", "--curve-server-key",
                                        server.public_key, "--curve-secret-key", short_secret});
    EXPECT_NE(code, 0);
    EXPECT_NE(out.find("--curve-secret-key"), std::string::npos) << out;
    EXPECT_NE(out.find("40"), std::string::npos) << out;
    EXPECT_EQ(out.find(short_secret), std::string::npos) << "the secret was printed";

    std::string bad_server = server.public_key;
    bad_server[7] = '"';  // not in the Z85 alphabet
    std::tie(code, out) = run_logged(dir, {INGRESS_BIN, "--insecure-no-auth", "--curve-server-key",
                                           bad_server, "--curve-secret-key", client.secret_key});
    EXPECT_NE(code, 0);
    EXPECT_NE(out.find("--curve-server-key"), std::string::npos) << out;

    std::string bad_secret = client.secret_key;
    bad_secret[0] = ' ';
    std::tie(code, out) = run_logged(dir, {WORKER_BIN, "--curve-secret-key", bad_secret});
    EXPECT_NE(code, 0);
    EXPECT_NE(out.find("--curve-secret-key"), std::string::npos) << out;
    EXPECT_EQ(out.find(bad_secret.substr(1)), std::string::npos) << "the secret was printed";
}

TEST_F(Curve, WorkerGeneratesAMatchingKeypair) {
    auto [code, out] = run_logged(dir, {WORKER_BIN, "--generate-curve-keypair"});
    ASSERT_EQ(code, 0) << out;
    std::istringstream lines(out);
    std::string pub_line, sec_line;
    std::getline(lines, pub_line);
    std::getline(lines, sec_line);
    ASSERT_EQ(pub_line.rfind("public=", 0), 0u) << out;
    ASSERT_EQ(sec_line.rfind("secret=", 0), 0u) << out;
    std::string pub = pub_line.substr(7), sec = sec_line.substr(7);
    ASSERT_EQ(pub.size(), 40u);
    ASSERT_EQ(sec.size(), 40u);
    char derived[41] = {};
    ASSERT_EQ(zmq_curve_public(derived, sec.c_str()), 0);
    EXPECT_EQ(pub, derived);
}
