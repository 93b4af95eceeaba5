// A test that dies, however it dies, takes its servers with it: a SIGKILLed test process leaves no
// Postgres, Memcached, worker or ingress of its own running (tests/support/process.hpp).
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "stack.hpp"

using namespace revalidator::testing;

namespace {

struct Proc {
    pid_t ppid;
    char state;
    std::string name;
};

// Every process on the machine, from /proc.
std::map<pid_t, Proc> processes() {
    std::map<pid_t, Proc> out;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
        pid_t pid = std::atoi(e.path().filename().c_str());
        if (pid <= 0) continue;
        std::ifstream in(e.path() / "stat");
        std::string stat;
        if (!std::getline(in, stat)) continue;
        auto open = stat.find('('), close = stat.rfind(')');
        if (open == std::string::npos || close == std::string::npos) continue;
        std::istringstream rest(stat.substr(close + 2));
        Proc p{0, '?', stat.substr(open + 1, close - open - 1)};
        rest >> p.state >> p.ppid;
        out[pid] = p;
    }
    return out;
}

std::set<pid_t> descendants(pid_t root) {
    auto all = processes();
    std::set<pid_t> found{root};
    for (bool grew = true; grew;) {
        grew = false;
        for (const auto& [pid, p] : all) {
            if (found.count(p.ppid) && found.insert(pid).second) grew = true;
        }
    }
    found.erase(root);
    return found;
}

// Gone, or a zombie waiting for whoever adopted it to reap it: either way, not running.
bool running(pid_t pid) {
    auto all = processes();
    auto it = all.find(pid);
    return it != all.end() && it->second.state != 'Z';
}

}  // namespace

TEST(Orphans, AKilledTestLeavesNoServerRunning) {
    TempDir dir;
    const std::string ready = dir.path() + "/ready";
    Process held(
        {HOLD_STACK_BIN, "--gtest_filter=Hold.StackUntilKilled"}, dir.path() + "/held.log",
        {.extra_env = {"HOLD_STACK_READY=" + ready, "REVALIDATOR_TEST_TMPDIR=" + dir.path()}});
    ASSERT_TRUE(eventually([&] { return std::filesystem::exists(ready) || !held.alive(); },
                           std::chrono::seconds(60)))
        << held.log_tail();
    ASSERT_TRUE(held.alive()) << held.log_tail();
    // Its files are inside our directory, so they go with ours although it cannot remove them.
    bool nested = false;
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
        nested = nested || e.path().filename().string().rfind("revalidator-test.", 0) == 0;
    }
    EXPECT_TRUE(nested) << "the held stack's directory is not inside " << dir.path();

    std::set<pid_t> servers = descendants(held.pid());
    std::set<std::string> names;
    for (pid_t pid : servers) names.insert(processes()[pid].name);
    for (const char* expected :
         {"postgres", "memcached", "revalidator-wor", "revalidator-ing"}) {  // comm: 15 chars
        EXPECT_TRUE(names.count(expected)) << expected << " was not started";
    }

    held.stop(SIGKILL);
    std::set<pid_t> left;
    bool all_gone = eventually(
        [&] {
            left.clear();
            for (pid_t pid : servers)
                if (running(pid)) left.insert(pid);
            return left.empty();
        },
        std::chrono::seconds(15));
    std::string still;
    for (pid_t pid : left) still += " " + std::to_string(pid) + " (" + processes()[pid].name + ")";
    EXPECT_TRUE(all_gone) << "still running after the test was killed:" << still;
}
