// Shutdown on SIGTERM/SIGINT. install() blocks both signals in the calling thread (call it in main
// before starting threads, so every thread inherits the mask) and waits for them on a dedicated
// thread; that thread runs the registered callbacks, so no work happens inside a signal handler.
// A callback may run while, or after, the code that registered it returns: it must touch only
// what outlives that. A process that can instead stop its parts from a thread of its own waits
// for the request (wait()) and registers nothing.
#pragma once

#include <chrono>
#include <functional>

namespace revalidator::shutdown {

void install();
void on_request(std::function<void()> callback);
bool requested();
// Sleeps until shutdown is requested or `d` passes; returns requested().
bool wait_for(std::chrono::milliseconds d);
// Sleeps until shutdown is requested.
void wait();
// For tests and for fatal paths: behave as if a signal arrived.
void request();

}  // namespace revalidator::shutdown
