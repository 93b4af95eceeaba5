// A list of servers as flags take it: "host:port[,host:port...]", the port optional. Parsed apart
// from any client library so that every client reads the flag the same way and says what is wrong.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/result.hpp"

namespace revalidator {

struct HostPort {
    std::string host;
    int port;
};

Result<std::vector<HostPort>, std::string> parse_server_list(std::string_view list,
                                                             int default_port);

}  // namespace revalidator
