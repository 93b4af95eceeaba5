#include "endpoint.hpp"

#include <charconv>

namespace revalidator {

std::optional<std::string> endpoint_error(std::string_view ep) {
    constexpr std::string_view tcp = "tcp://", ipc = "ipc://";
    // Appended: g++ 12 at -O2 takes "\"" + std::string(ep) for an overlapping copy (-Wrestrict).
    std::string quoted = "\"";
    quoted += ep;
    quoted += '"';
    if (ep.substr(0, ipc.size()) == ipc) {
        if (ep.size() > ipc.size()) return std::nullopt;
        return quoted + " names no path (ipc://PATH)";
    }
    if (ep.substr(0, tcp.size()) != tcp)
        return quoted + " is neither tcp://HOST:PORT nor ipc://PATH";
    const std::string_view rest = ep.substr(tcp.size());
    const std::size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
        return quoted + " needs a host and a port (tcp://HOST:PORT)";
    }
    const std::string_view port = rest.substr(colon + 1);
    int n = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || n < 1 ||
        n > 65535) {
        return quoted + ": the port must be a number from 1 to 65535";
    }
    return std::nullopt;
}

}  // namespace revalidator
