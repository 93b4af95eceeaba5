#include "server_list.hpp"

#include <charconv>

namespace revalidator {

Result<std::vector<HostPort>, std::string> parse_server_list(std::string_view list,
                                                             int default_port) {
    std::vector<HostPort> out;
    // 'item', appended: g++ 12 at -O2 takes "'" + std::string(item) for an overlapping copy
    // (-Wrestrict).
    const auto named = [](std::string_view item) {
        std::string s = "'";
        s += item;
        s += '\'';
        return s;
    };
    for (std::size_t start = 0, comma = 0; comma != std::string_view::npos; start = comma + 1) {
        comma = list.find(',', start);
        std::string_view item =
            list.substr(start, comma == std::string_view::npos ? comma : comma - start);
        auto colon = item.rfind(':');
        HostPort hp{std::string(item.substr(0, colon)), default_port};
        if (colon != std::string_view::npos) {
            std::string_view port = item.substr(colon + 1);
            auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), hp.port);
            if (ec != std::errc() || end != port.data() + port.size() || hp.port < 1 ||
                hp.port > 65535) {
                return Err{named(item) + ": the port must be a number from 1 to 65535"};
            }
        }
        if (hp.host.empty()) return Err{named(item) + ": the host is missing"};
        out.push_back(std::move(hp));
    }
    return out;
}

}  // namespace revalidator
