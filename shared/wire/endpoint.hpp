// ZeroMQ endpoints as options give them. libzmq refuses a malformed endpoint only when a socket
// binds or connects to it, once the process is serving (and the ingress aborted on it), so each is
// checked with the rest of the configuration: tcp://HOST:PORT with a port from 1 to 65535 (a
// worker may bind tcp://*:PORT), or ipc://PATH.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace revalidator {

// Why `endpoint` is not usable, or nullopt when it is.
std::optional<std::string> endpoint_error(std::string_view endpoint);

}  // namespace revalidator
