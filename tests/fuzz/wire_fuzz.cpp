// libFuzzer target: the wire decoder the worker runs on every ZeroMQ frame. Any frame must decode
// to an event or a WireError, never crash; an event it accepts must survive encode -> decode
// unchanged, and its primary key must be usable as a cache key (markers carry none).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cache/cache_key.hpp"
#include "wire/wire.hpp"

using namespace revalidator;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto event = wire::decode(std::string_view(reinterpret_cast<const char*>(data), size));
    if (!event) {
        if (event.error().reason.empty() || event.error().detail.empty()) std::abort();
        return 0;
    }
    if (!is_marker(event->op) && check_key_part(event->pk)) std::abort();
    auto again = wire::decode(wire::encode(*event));
    if (!again || !(*again == *event)) std::abort();
    return 0;
}
