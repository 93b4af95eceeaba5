// SIGTERM exits 0 from every state of the worker (docs/operations.md, "Shutdown"):
// standby, taking the lease, active, in the middle of an anti-entropy pass, of a canary write and
// of a resync, serving one table and serving two. Each state is reached by a worker of the test's
// own beside the stack's, and found by polling its log, its /metrics or Postgres, never by waiting.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <functional>

#include <pqxx/pqxx>

#include "stack.hpp"

using namespace revalidator::testing;
using namespace std::chrono_literals;

namespace {

class Stopping {
  public:
    explicit Stopping(bool two_tables)
        // Enough rows that a slow pass is long under way.
        : stack_({.setup_sql = {"INSERT INTO public.articles (title, body) SELECT 'More ' || g, "
                                "'' FROM generate_series(1, 300) g"},
                  .authors = two_tables,
                  .shared_workers = two_tables}),
          collections_(two_tables ? std::vector<std::string>{"articles", "authors"}
                                  : std::vector<std::string>{"articles"}) {}

    Stack& stack() { return stack_; }

    // Starts a worker serving the stack's tables, with `args` after the common ones (a takeover
    // delay of 0 unless they say otherwise).
    void start(const std::vector<std::string>& args) {
        admin_port_ = free_port();
        std::string bind;
        for (std::size_t i = 0; i < collections_.size(); ++i) {
            bind += (i ? ",tcp://127.0.0.1:" : "tcp://127.0.0.1:") + std::to_string(free_port());
        }
        std::vector<std::string> argv{WORKER_BIN,
                                      "--postgres-url",
                                      stack_.postgres().url(),
                                      "--memcached",
                                      stack_.memcached_servers(),
                                      "--bind",
                                      bind,
                                      "--admin-port",
                                      std::to_string(admin_port_)};
        if (collections_.size() > 1) {
            argv.insert(argv.end(), {"--config", stack_.collections_file(), "--collection",
                                     "articles,authors"});
        }
        argv.insert(argv.end(), args.begin(), args.end());
        if (std::find(args.begin(), args.end(), "--takeover-delay-ms") == args.end()) {
            argv.insert(argv.end(), {"--takeover-delay-ms", "0"});
        }
        log_ = dir_.path() + "/worker" + std::to_string(++runs_) + ".log";
        worker_ = std::make_unique<Process>(argv, log_);
    }

    // Whether every served table's series `name` satisfies `holds`.
    bool every_table(const std::string& name, const std::function<bool(double)>& holds) {
        for (const auto& c : collections_) {
            if (!holds(scrape(admin_port_, series(name, c)))) return false;
        }
        return true;
    }
    double articles(const std::string& name) {
        return scrape(admin_port_, series(name, collections_.front()));
    }
    // How many times the worker logged `line`.
    std::size_t logged(const std::string& line) const {
        const std::string text = read_file(log_);
        std::size_t n = 0;
        for (auto at = text.find(line); at != std::string::npos; at = text.find(line, at + 1)) ++n;
        return n;
    }
    std::size_t tables() const { return collections_.size(); }

    // Polls for `state`, once the worker handles signals; false (and the log) when the worker
    // never reached it.
    ::testing::AssertionResult reaches(const char* state, const std::function<bool()>& reached) {
        const auto up = [&] { return logged("\"worker started\"") > 0 && reached(); };
        if (eventually([&] { return !worker_->alive() || up(); }, 20s) && worker_->alive()) {
            return ::testing::AssertionSuccess();
        }
        return ::testing::AssertionFailure() << "never " << state << ":\n" << worker_->log_tail();
    }
    // Sends SIGTERM; `meanwhile` runs before the exit is awaited.
    void expect_exit_0(
        const char* state, const std::function<void()>& meanwhile = [] {}) {
        ::kill(worker_->pid(), SIGTERM);
        meanwhile();
        const auto code = worker_->wait_for(20s);
        EXPECT_EQ(code, 0) << "SIGTERM " << state << ": " << (code ? "exit " : "no exit ")
                           << code.value_or(0) << "\n"
                           << read_file(log_);
        worker_.reset();
    }

  private:
    static std::string series(const std::string& name, const std::string& collection) {
        return name + "{collection=\"" + collection + "\"}";
    }

    Stack stack_;
    std::vector<std::string> collections_;  // as the worker's series label them
    TempDir dir_;
    std::unique_ptr<Process> worker_;
    int admin_port_ = 0;
    std::string log_;
    int runs_ = 0;
};

void expect_every_state_exits_0(bool two_tables) {
    Stopping w(two_tables);
    Stack& s = w.stack();
    const auto n = static_cast<double>(w.tables());

    // The stack's worker holds every lease.
    w.start({});
    ASSERT_TRUE(w.reaches(
        "standby", [&] { return w.logged("standby: waiting for the lease") >= w.tables(); }));
    w.expect_exit_0("in standby");

    // Its own SIGTERM, active; from now on the leases are free.
    const int stack_worker = s.worker(0).stop(SIGTERM);
    EXPECT_TRUE(WIFEXITED(stack_worker) && WEXITSTATUS(stack_worker) == 0)
        << "the stack's active worker: wait status " << stack_worker;

    const auto held_leases = [&] {
        return std::stod(
            s.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")
                .value_or("0"));
    };
    ASSERT_TRUE(eventually([&] { return held_leases() == 0; })) << "the leases were not freed";
    w.start({"--takeover-delay-ms", "600000"});
    ASSERT_TRUE(w.reaches("taking the lease", [&] {
        return held_leases() >= n &&
               w.every_table("revalidator_worker_active", [](double v) { return v == 0; });
    }));
    w.expect_exit_0("while taking the lease");

    w.start({"--verify-rate", "0"});
    ASSERT_TRUE(w.reaches("active", [&] {
        return w.every_table("revalidator_worker_active", [](double v) { return v == 1; });
    }));
    w.expect_exit_0("active");

    // Ten rows a second: a pass over the articles takes half a minute.
    w.start({"--verify-rate", "10", "--verify-slice", "10"});
    ASSERT_TRUE(w.reaches("mid anti-entropy pass", [&] {
        return w.every_table("revalidator_worker_verify_rows_total", [](double v) {
            return v > 0;
        }) && w.articles("revalidator_worker_verify_passes_total") == 0;
    }));
    w.expect_exit_0("mid anti-entropy pass");

    // The canary's write waits for this lock: the stop waits for it at most its deadline
    // (--pg-timeout-ms), then the canary's thread is joined.
    s.sql(read_file(
        (std::filesystem::path(REVALIDATOR_SCHEMA_SQL).parent_path() / "canary.sql").string()));
    {
        pqxx::connection canary_locker(s.postgres().url());
        pqxx::work canary_lock(canary_locker);
        canary_lock.exec("LOCK TABLE revalidator.canary IN ACCESS EXCLUSIVE MODE");
        w.start({"--canary-interval-ms", "200", "--pg-timeout-ms", "2000", "--verify-rate", "0"});
        ASSERT_TRUE(w.reaches("mid canary write", [&] {
            return s.sql(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE '%revalidator.canary%' AND pid <> pg_backend_pid()")
                       .value_or("0") == std::to_string(w.tables());
        }));
        w.expect_exit_0("mid canary write");
    }

    // The resync a worker starts with waits for this lock.
    pqxx::connection locker(s.postgres().url());
    pqxx::work lock(locker);
    lock.exec("LOCK TABLE public.articles IN ACCESS EXCLUSIVE MODE");
    w.start({});
    ASSERT_TRUE(w.reaches("mid resync", [&] {
        return s.sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND pid <> pg_backend_pid()")
                   .value_or("0") != "0";
    }));
    w.expect_exit_0("mid resync", [&] { lock.abort(); });
}

}  // namespace

TEST(Stop, SigtermExitsZeroFromEveryStateOfAOneTableWorker) {
    expect_every_state_exits_0(false);
}

TEST(Stop, SigtermExitsZeroFromEveryStateOfATwoTableWorker) {
    expect_every_state_exits_0(true);
}
