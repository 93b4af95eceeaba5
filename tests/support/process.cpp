#include "process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace revalidator::testing {

namespace {

// execve needs a path; the PATH search happens here, before fork, because between fork and exec
// a multi-threaded parent's child may only make async-signal-safe calls.
std::string resolve(const std::string& program) {
    if (program.find('/') != std::string::npos) return program;
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
        if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    throw std::runtime_error("cannot start " + program + ": not found in PATH");
}

struct Identity {
    uid_t uid;
    gid_t gid;
};

Identity lookup(const std::string& user) {
    passwd* pw = getpwnam(user.c_str());
    if (!pw) throw std::runtime_error("user '" + user + "' missing");
    return {pw->pw_uid, pw->pw_gid};
}

// In the child: only async-signal-safe calls, then exec or _exit(127).
[[noreturn]] void become(const std::string& program, char* const* argv, char* const* envp,
                         const char* log, const Identity* as, pid_t parent) {
    int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int in = open("/dev/null", O_RDONLY);
    if (out < 0 || in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) _exit(127);
    if (as && (setgroups(0, nullptr) != 0 || setgid(as->gid) != 0 || setuid(as->uid) != 0))
        _exit(127);
    // After the identity change, which would clear it; then make sure the parent did not die
    // before it was set.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
    // Default handling and no blocked signals, whatever the test does (it ignores SIGPIPE).
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(program.c_str(), argv, envp);
    _exit(127);
}

}  // namespace

Process::Process(std::vector<std::string> argv, std::string log_path, ProcessOptions opts)
    : log_(std::move(log_path)) {
    const std::string program = resolve(argv.at(0));
    std::optional<Identity> as;
    if (!opts.user.empty()) as = lookup(opts.user);
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    for (auto& e : opts.extra_env) env.push_back(std::move(e));
    std::vector<char*> cargv, cenv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    for (auto& e : env) cenv.push_back(e.data());
    cenv.push_back(nullptr);

    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("cannot start " + argv[0] + ": " + strerror(errno));
    if (pid_ == 0)
        become(program, cargv.data(), cenv.data(), log_.c_str(), as ? &*as : nullptr, parent);
}

Process::~Process() {
    stop(SIGTERM);
}

bool Process::alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

int Process::stop(int sig, std::chrono::milliseconds grace) {
    if (pid_ <= 0) return -1;
    kill(pid_, sig);
    auto deadline = std::chrono::steady_clock::now() + grace;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid_, SIGKILL);
            waitpid(pid_, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
    return status;
}

std::string Process::log_tail(std::size_t bytes) const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    return s.size() > bytes ? s.substr(s.size() - bytes) : s;
}

int Process::wait() {
    if (pid_ <= 0) return -1;
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

namespace {

// Whether every thread of `pid` has stopped: SIGSTOP takes effect after kill() returns, and a
// thread still running would answer a request sent meanwhile.
bool all_threads_stopped(pid_t pid) {
    const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    for (const auto& task : std::filesystem::directory_iterator(tasks)) {
        std::ifstream stat(task.path() / "stat");
        std::string line;
        std::getline(stat, line);
        // "pid (comm) S ...": the state follows the last ')', since comm may hold any byte.
        const auto close = line.rfind(')');
        if (close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'T') {
            return false;
        }
    }
    return true;
}

}  // namespace

Frozen::Frozen(Process& p) : pid_(p.pid()) {
    if (pid_ <= 0 || kill(pid_, SIGSTOP) != 0)
        throw std::runtime_error("cannot freeze: not running");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!all_threads_stopped(pid_)) {
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid_, SIGCONT);
            throw std::runtime_error("cannot freeze: a thread did not stop within 5 s");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

Frozen::~Frozen() {
    kill(pid_, SIGCONT);
}

std::optional<int> Process::wait_for(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return std::nullopt;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int run(std::vector<std::string> argv, const std::string& log_path, ProcessOptions opts) {
    return Process(std::move(argv), log_path, std::move(opts)).wait();
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace revalidator::testing
