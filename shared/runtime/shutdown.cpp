#include "shutdown.hpp"

#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>

#include "notify.hpp"

namespace revalidator::shutdown {

namespace {

std::mutex mu;
std::condition_variable cv;
bool flag = false;

}  // namespace

void request() {
    // Notified under the lock: a waiter that wakes may end the process, and the signal thread
    // must be done with the condition variable by then.
    std::lock_guard lock(mu);
    flag = true;
    cv.notify_all();
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
        notify::send("STOPPING=1");
        request();
    }).detach();
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
