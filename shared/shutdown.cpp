#include "shutdown.hpp"

#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>
#include <vector>

namespace revalidator::shutdown {

namespace {

std::mutex mu;
std::condition_variable cv;
bool flag = false;
std::vector<std::function<void()>> callbacks;

}  // namespace

void request() {
    std::vector<std::function<void()>> run;
    {
        // Notified under the lock: a waiter that wakes may end the process, and the signal
        // thread must be done with the condition variable by then.
        std::lock_guard lock(mu);
        if (flag) return;
        flag = true;
        run = callbacks;
        cv.notify_all();
    }
    for (auto& f : run) f();
}

void install() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    std::thread([set] {
        int sig = 0;
        sigwait(&set, &sig);
        request();
    }).detach();
}

void on_request(std::function<void()> callback) {
    std::lock_guard lock(mu);
    callbacks.push_back(std::move(callback));
}

bool requested() {
    std::lock_guard lock(mu);
    return flag;
}

void wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [] { return flag; });
}

bool wait_for(std::chrono::milliseconds d) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, d, [] { return flag; });
    return flag;
}

}  // namespace revalidator::shutdown
