// libFuzzer target: the wire decoder the worker runs on every ZeroMQ frame. Any frame must decode
// to an event or a WireError, never crash; the answer must be decode_reference's (nlohmann's DOM)
// to the letter: simdjson decides only the frames that are valid events, and must accept nothing
// the reference refuses. An event it accepts must be written as encode_reference writes it and
// survive encode -> decode unchanged, and its primary key must be usable as a cache key (markers
// carry none).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cache/cache_key.hpp"
#include "wire/wire.hpp"

using namespace revalidator;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view frame(reinterpret_cast<const char*>(data), size);
    auto event = wire::decode(frame);
    auto reference = wire::decode_reference(frame);
    const bool same = event.ok()
                          ? reference.ok() && *event == *reference
                          : !reference.ok() && event.error().reason == reference.error().reason &&
                                event.error().detail == reference.error().detail;
    if (!same) std::abort();
    if (!event) {
        if (event.error().reason.empty() || event.error().detail.empty()) std::abort();
        return 0;
    }
    if (names_row(event->op) && check_key_part(event->pk)) std::abort();
    const std::string written = wire::encode(*event);
    if (written != wire::encode_reference(*event)) std::abort();
    auto again = wire::decode(written);
    if (!again || !(*again == *event)) std::abort();
    return 0;
}
