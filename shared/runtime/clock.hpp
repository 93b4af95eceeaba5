// Wall-clock time as unix microseconds: what events carry across processes (receive time, epochs).
#pragma once

#include <chrono>
#include <cstdint>

namespace revalidator {

inline std::uint64_t unix_micros() {
    using namespace std::chrono;
    return static_cast<std::uint64_t>(
        duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
}

}  // namespace revalidator
