// The service manager's notification (runtime/notify.hpp), received by a real unix datagram
// socket as systemd binds it: at a path, and in the abstract namespace ('@').
#include "runtime/notify.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "notify_receiver.hpp"

namespace revalidator::notify {
namespace {

using testing::NotifyReceiver;
using namespace std::chrono_literals;

// NOTIFY_SOCKET set for the test's lifetime; unset after.
class Env {
  public:
    explicit Env(const std::string& value) { ::setenv("NOTIFY_SOCKET", value.c_str(), 1); }
    ~Env() { ::unsetenv("NOTIFY_SOCKET"); }
    Env(const Env&) = delete;
    Env& operator=(const Env&) = delete;
};

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() /
            ("revalidator-notify-" + std::to_string(::getpid()) + "-" + name))
        .string();
}

TEST(Notify, SendsEachStateAsOneDatagramToAPath) {
    NotifyReceiver manager(temp_path("path"));
    Env env(manager.address());
    ASSERT_TRUE(send("READY=1"));
    ASSERT_TRUE(send("STOPPING=1\nSTATUS=draining"));
    EXPECT_EQ(manager.next(), "READY=1");
    EXPECT_EQ(manager.next(), "STOPPING=1\nSTATUS=draining");
    EXPECT_EQ(manager.next(0ms), std::nullopt);
}

TEST(Notify, ReachesTheAbstractNamespace) {
    NotifyReceiver manager("@" + temp_path("abstract"));
    // The name is the bytes after '@' and nothing more: a receiver bound with a trailing NUL,
    // which a sender that counted one would reach instead, hears nothing.
    NotifyReceiver padded(manager.address() + std::string(1, '\0'));
    Env env(manager.address());
    ASSERT_TRUE(send("READY=1"));
    EXPECT_EQ(manager.next(), "READY=1");
    EXPECT_EQ(padded.next(0ms), std::nullopt);
}

TEST(Notify, SendsNothingWithoutAManager) {
    ::unsetenv("NOTIFY_SOCKET");
    EXPECT_FALSE(send("READY=1"));
}

TEST(Notify, RefusesAddressesItCannotReach) {
    EXPECT_FALSE(send_to("", "READY=1"));
    EXPECT_FALSE(send_to("relative/path", "READY=1"));
    EXPECT_FALSE(send_to("vsock:2:1234", "READY=1"));
    EXPECT_FALSE(send_to("/" + std::string(200, 'x'), "READY=1"));  // longer than sun_path
    EXPECT_FALSE(send_to(temp_path("nobody-listens"), "READY=1"));
}

}  // namespace
}  // namespace revalidator::notify
