// The server's refusals, registered up front so that every series exists (at 0) from the start.
#pragma once

#include <map>
#include <string>

#include "http_server.hpp"

namespace revalidator::http {

struct Server::Counters {
    explicit Counters(metrics::Registry& r) {
        for (const char* reason :
             {"bad_request", "not_implemented", "uri_too_long", "headers_too_large",
              "payload_too_large", "request_timeout", "write_timeout", "too_many_connections",
              "no_descriptors", "draining", "busy", "output_full"}) {
            by_reason.emplace(reason, &r.counter("revalidator_http_refused_total",
                                                 "Requests or connections refused before "
                                                 "reaching a route",
                                                 std::string("reason=\"") + reason + "\""));
        }
    }
    metrics::Counter& refused(const std::string& reason) { return *by_reason.at(reason); }
    std::map<std::string, metrics::Counter*> by_reason;
};

}  // namespace revalidator::http
