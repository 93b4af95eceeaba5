// The webhook: parses and validates a Supabase Database Webhook body and names the rows it touches.
// Pure logic, no I/O. Every rejection carries the HTTP status, a stable error code and a detail
// that names exactly what was wrong (docs/architecture.md, "The webhook" and "What bad input
// gets").
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/table.hpp"
#include "runtime/result.hpp"
#include "wire/event.hpp"

namespace revalidator::ingress {

struct Rejection {
    int status;
    std::string code;
    std::string detail;

    bool operator==(const Rejection&) const = default;
};

// One row to revalidate. An UPDATE that changes the primary key touches two rows. A TRUNCATE is
// one Change of Op::Resync with an empty pk: the whole table.
struct Change {
    Op op;
    std::string pk;

    bool operator==(const Change&) const = default;
};

// A body nested deeper than this is refused (400 malformed_json, before any other fault of it): the
// parse stops at the first level past the bound, so nesting costs neither memory nor time.
inline constexpr int kMaxJsonDepth = 64;

// Whether `body` nests deeper than `limit`, its brackets counted outside strings through the whole
// body (past a fault or a NUL byte too): the count parse_webhook's depth bound is defined by.
bool nested_deeper_than(std::string_view body, int limit);

// The rows a webhook names, and which of the served tables it is for.
struct Routed {
    std::size_t table = 0;  // index into the tables given to parse_webhook
    std::vector<Change> changes;
};

// `tables` are those this ingress serves; a webhook for any other is refused with 422.
Result<Routed, Rejection> parse_webhook(std::string_view body, std::span<const Table> tables);

// The same contract through nlohmann's JSON parser alone, the parse that words every refusal.
// parse_webhook answers every body exactly as this does, faster (simdjson where it accepts the
// body); the tests and the fuzz target hold the two to that.
Result<Routed, Rejection> parse_webhook_reference(std::string_view body,
                                                  std::span<const Table> tables);

// Content-Type must be application/json (parameters such as charset allowed).
bool is_json_content_type(std::string_view content_type);

}  // namespace revalidator::ingress
