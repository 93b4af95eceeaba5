// The target of an HTTP load: plain http://host[:port]/path. TLS is left out on purpose: the load
// generator measures the ack path of a receiver, so it is pointed at the receiver itself (or at a
// plain-HTTP balancer in front of it), never through a TLS terminator that would be measured too.
#pragma once

#include <optional>
#include <string>

namespace loadgen {

struct Url {
    std::string host;
    int port = 80;
    std::string path = "/";
    std::string host_header;  // "host" or "host:port", as the Host header wants it
};

// nullopt when `text` is not an http:// URL with a host.
std::optional<Url> parse_url(const std::string& text);

}  // namespace loadgen
