// Wire format v1 between ingress and worker: one ZeroMQ frame per event, a compact JSON object.
// docs/wire-format.md is the specification. decode() validates every field and never throws on
// bad input: a frame that is not a valid v1 event comes back as a WireError naming the problem.
#pragma once

#include <string>
#include <string_view>

#include "event.hpp"
#include "runtime/result.hpp"

namespace revalidator::wire {

inline constexpr int kVersion = 1;

struct WireError {
    std::string reason;  // short, stable: "malformed", "unknown_version", "invalid_field"
    std::string detail;
};

std::string encode(const Event& e);
Result<Event, WireError> decode(std::string_view frame);

}  // namespace revalidator::wire
