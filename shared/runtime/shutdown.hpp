// Shutdown on SIGTERM/SIGINT. install() blocks both signals in the calling thread (call it in main
// before starting threads, so every thread inherits the mask) and waits for them on a dedicated
// thread, which only records the request: no work happens inside a signal handler or on that
// thread. Each process stops its parts from a thread it owns that waits for the request (wait()),
// so nothing runs after the code that owns those parts returns. A signal also tells the service
// manager the process is stopping (notify.hpp: STOPPING=1).
#pragma once

#include <chrono>

namespace revalidator::shutdown {

void install();
bool requested();
// Sleeps until shutdown is requested or `d` passes; returns requested().
bool wait_for(std::chrono::milliseconds d);
// Sleeps until shutdown is requested.
void wait();
// For tests and for fatal paths: behave as if a signal arrived.
void request();

}  // namespace revalidator::shutdown
