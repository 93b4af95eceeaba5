// A child process for tests: started with fork/exec, output to a log file, stopped on destruction
// (SIGTERM, then SIGKILL after a grace period).
//
// A child never outlives the test that started it: it gets SIGKILL when its parent dies, however
// the test ends (an assertion, a crash, SIGKILL from ctest's timeout). Linux ties that signal to
// the *thread* that forked, so start processes from the test's main thread (or a thread that
// outlives them), never from a short-lived helper thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace revalidator::testing {

struct ProcessOptions {
    std::vector<std::string> extra_env = {};
    // Run as this user (e.g. "postgres", which refuses root); empty keeps the test's own user.
    // Dropping privileges here, not in the child, keeps the parent-death signal in force.
    std::string user = {};
};

class Process {
  public:
    // argv[0] is the program (searched in PATH when it has no '/').
    Process(std::vector<std::string> argv, std::string log_path, ProcessOptions opts = {});
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }
    bool alive();
    // Sends `sig` and waits up to `grace` for the exit; SIGKILL after that. Returns the exit status
    // as from waitpid (or -1 if the process was already reaped).
    int stop(int sig, std::chrono::milliseconds grace = std::chrono::seconds(10));
    // Waits for the exit; returns the exit code (128 + signal when killed).
    int wait();
    // The same, but gives up after `timeout`: nullopt while the process still runs.
    std::optional<int> wait_for(std::chrono::milliseconds timeout);
    const std::string& log_path() const { return log_; }
    std::string log_tail(std::size_t bytes = 4000) const;

  private:
    pid_t pid_ = -1;
    std::string log_;
};

// SIGSTOP for its lifetime, SIGCONT when it ends (however the test leaves the scope): a peer that
// is alive, holds its connections and answers nothing. The constructor returns once every thread
// of the process has stopped, so nothing sent after it is answered.
class Frozen {
  public:
    explicit Frozen(Process& p);
    ~Frozen();
    Frozen(const Frozen&) = delete;
    Frozen& operator=(const Frozen&) = delete;

  private:
    pid_t pid_;
};

// Runs a command to completion; returns its exit code and throws if it cannot be started.
int run(std::vector<std::string> argv, const std::string& log_path, ProcessOptions opts = {});

// The whole text of a file (a process's log); empty when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace revalidator::testing
