#include "url.hpp"

#include <charconv>

namespace loadgen {

std::optional<Url> parse_url(const std::string& text) {
    const std::string scheme = "http://";
    if (text.compare(0, scheme.size(), scheme) != 0) return std::nullopt;
    std::string rest = text.substr(scheme.size());
    Url u;
    auto slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    if (slash != std::string::npos) u.path = rest.substr(slash);
    u.host_header = authority;
    // "[::1]:8080", "127.0.0.1:8080", "localhost"
    auto colon = authority.rfind(':');
    if (colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
        std::string port = authority.substr(colon + 1);
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), u.port);
        if (ec != std::errc() || end != port.data() + port.size() || u.port <= 0 || u.port > 65535)
            return std::nullopt;
        authority = authority.substr(0, colon);
    }
    if (authority.size() >= 2 && authority.front() == '[' && authority.back() == ']')
        authority = authority.substr(1, authority.size() - 2);
    if (authority.empty()) return std::nullopt;
    u.host = authority;
    return u;
}

}  // namespace loadgen
