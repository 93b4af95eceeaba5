// libFuzzer target: the reader of Memcached's `lru_crawler metadump` answer, which the worker's
// anti-entropy pass feeds with whatever a cache server sends. Any bytes must end in a state, never
// a crash; a failure must say why and keep no key; every key kept must start with the prefix; and
// the answer split anywhere must read exactly as the answer in one piece.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "metadump.hpp"

using revalidator::worker::MetadumpReader;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view all(reinterpret_cast<const char*>(data), size);
    const std::string prefix = "/a/";
    MetadumpReader whole(prefix, 64);
    whole.feed(all);
    const std::size_t cut = size == 0 ? 0 : data[0] % (size + 1);
    MetadumpReader split(prefix, 64);
    split.feed(all.substr(0, cut));
    split.feed(all.substr(cut));
    if (whole.state() != split.state() || whole.error() != split.error()) std::abort();
    auto keys = whole.take_keys();
    if (keys != split.take_keys()) std::abort();
    if (whole.state() == MetadumpReader::State::Failed &&
        (whole.error().empty() || !keys.empty())) {
        std::abort();
    }
    for (const auto& key : keys) {
        if (key.compare(0, prefix.size(), prefix) != 0) std::abort();
    }
    return 0;
}
