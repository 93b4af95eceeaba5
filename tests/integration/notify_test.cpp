// The service manager's notification (runtime/notify.hpp) from the real binaries, started as
// systemd starts a Type=notify unit (NOTIFY_SOCKET set): READY=1 only once the process does its
// job (the ingress listens; the worker has read Postgres and written Memcached, or stands by
// behind an active worker), and STOPPING=1 on SIGTERM.
#include <gtest/gtest.h>

#include <csignal>

#include <pqxx/pqxx>

#include "notify_receiver.hpp"
#include "stack.hpp"

using namespace revalidator::testing;
using namespace std::chrono_literals;

namespace {

int status_of(int port, const char* path) {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(2s);
    c.set_read_timeout(5s);
    const auto r = c.Get(path);
    return r ? r->status : 0;
}

// SIGTERM: STOPPING=1 comes, then the process ends cleanly.
void expect_stops(Process& p, NotifyReceiver& manager) {
    ::kill(p.pid(), SIGTERM);
    EXPECT_EQ(manager.next(20s), "STOPPING=1") << p.log_tail();
    EXPECT_EQ(p.wait_for(30s), 0) << p.log_tail();
}

}  // namespace

TEST(Notify, IngressIsReadyOnceItListens) {
    TempDir dir;
    NotifyReceiver manager(dir.path() + "/notify");
    const int port = free_port();
    Process ingress({INGRESS_BIN, "--insecure-no-auth", "--port", std::to_string(port),
                     "--worker-endpoint", "tcp://127.0.0.1:" + std::to_string(free_port())},
                    dir.path() + "/ingress.log", {.extra_env = {manager.env()}});
    ASSERT_EQ(manager.next(30s), "READY=1") << ingress.log_tail();
    // Listening when it says so: answered at once, with no retry.
    EXPECT_EQ(status_of(port, "/readyz"), 200);
    EXPECT_EQ(manager.next(0ms), std::nullopt) << "READY=1 is said once";
    expect_stops(ingress, manager);
}

TEST(Notify, WorkerIsReadyOnceItHasReadPostgresAndWrittenMemcached) {
    TempDir dir;
    PostgresServer pg(dir.path());
    {
        pqxx::connection c(pg.url());
        pqxx::nontransaction(c).exec(read_file(REVALIDATOR_SCHEMA_SQL));
    }
    MemcachedServer mc(dir.path());
    pg.stop();

    NotifyReceiver manager(dir.path() + "/notify");
    const int admin = free_port();
    const std::string bind = "tcp://127.0.0.1:" + std::to_string(free_port());
    const std::vector<std::string> args = {"--postgres-url", pg.url(), "--memcached",
                                           mc.address(),     "--bind", bind};
    auto command = [&](int admin_port) {
        std::vector<std::string> argv = {WORKER_BIN};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.insert(argv.end(), {"--admin-port", std::to_string(admin_port)});
        return argv;
    };
    Process worker(command(admin), dir.path() + "/worker.log", {.extra_env = {manager.env()}});
    // Up, but Postgres is away: not ready, and nothing said for as long as that lasts.
    ASSERT_TRUE(eventually([&] { return status_of(admin, "/readyz") == 503; }, 20s))
        << worker.log_tail();
    EXPECT_EQ(manager.next(3s), std::nullopt) << worker.log_tail();
    EXPECT_EQ(status_of(admin, "/readyz"), 503);

    pg.start();
    ASSERT_EQ(manager.next(60s), "READY=1") << worker.log_tail();
    EXPECT_EQ(status_of(admin, "/readyz"), 200) << "READY=1 came before /readyz said ready";

    // A standby is up too once Postgres says another worker is active, though it is not ready
    // to serve: otherwise systemd would never see it start.
    NotifyReceiver standby_manager(dir.path() + "/notify-standby");
    const int standby_admin = free_port();
    Process standby(command(standby_admin), dir.path() + "/standby.log",
                    {.extra_env = {standby_manager.env()}});
    ASSERT_EQ(standby_manager.next(30s), "READY=1") << standby.log_tail();
    EXPECT_EQ(status_of(standby_admin, "/readyz"), 503);

    expect_stops(standby, standby_manager);
    expect_stops(worker, manager);
}
