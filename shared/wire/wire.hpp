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

// The frame's text, written directly. Its bytes are encode_reference's for every event, including
// the nlohmann::json::type_error it throws for a string that is not valid UTF-8.
std::string encode(const Event& e);

// Parsed with simdjson, which decides only the frames that are valid v1 events; every other frame
// is decode_reference's to decide and word. Its answer is decode_reference's for every input (the
// same event, or the same reason and detail).
Result<Event, WireError> decode(std::string_view frame);

// The codec through an nlohmann::json DOM, the definition the fast codec is held to by the unit
// tests and the fuzz target (tests/fuzz/wire_fuzz.cpp).
std::string encode_reference(const Event& e);
Result<Event, WireError> decode_reference(std::string_view frame);

}  // namespace revalidator::wire
