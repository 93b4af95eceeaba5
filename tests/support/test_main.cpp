// main() of every test binary. Tests write to sockets that a server may close early (a 413 sent
// before the body was read, a process killed on purpose); such a write must fail with EPIPE, not
// kill the whole test binary with SIGPIPE. Children started through Process get default handling.
#include <gtest/gtest.h>

#include <csignal>

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
