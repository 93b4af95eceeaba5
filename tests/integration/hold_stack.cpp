// A test process that is killed on purpose (tests/integration/orphans_test.cpp): it starts a whole
// Stack, says so in the file named by HOLD_STACK_READY, and waits to be killed (120 s at most).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "stack.hpp"

using namespace revalidator::testing;

TEST(Hold, StackUntilKilled) {
    const char* ready = std::getenv("HOLD_STACK_READY");
    ASSERT_NE(ready, nullptr) << "run by orphans_test with HOLD_STACK_READY set";
    Stack s({.workers = 2});
    std::ofstream(ready) << "ready\n";
    std::this_thread::sleep_for(std::chrono::seconds(120));
}
