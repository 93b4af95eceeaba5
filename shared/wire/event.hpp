// Event: what the ingress tells the worker about one webhook. It names a row to look at; it never
// carries the row's content, because the worker reads the truth from Postgres
// (docs/architecture.md, promise 1). Stream fields (stream, epoch, seq) let the worker notice lost
// events and resync.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace revalidator {

// Insert, Update, Delete name a row. End and Heartbeat are stream markers without one: End closes
// a stream cleanly; Heartbeat, sent when the stream is idle, shows the worker the latest number so
// that events lost at the end of a burst are noticed without waiting for the next webhook.
// Resync names no row either: the whole table changed at once (a TRUNCATE), so the worker resyncs
// it. A worker that does not know it rejects the frame, and the number it leaves missing makes
// that worker resync the table too (docs/wire-format.md, "Adding a version").
enum class Op { Insert, Update, Delete, End, Heartbeat, Resync };
inline bool is_marker(Op op) {
    return op == Op::End || op == Op::Heartbeat;
}
inline bool names_row(Op op) {
    return op == Op::Insert || op == Op::Update || op == Op::Delete;
}

std::string_view to_string(Op op);
std::optional<Op> parse_op(std::string_view s);

struct Event {
    std::string stream;       // ingress instance id, stable across restarts of that instance
    std::uint64_t epoch = 0;  // boot time of this run of the instance (unix microseconds)
    std::uint64_t seq = 0;  // 1, 2, 3, ... within (stream, epoch); every stamped webhook takes one
    std::uint64_t received_us = 0;  // when the ingress received the webhook (unix microseconds)
    Op op = Op::Update;
    std::string schema;
    std::string table;
    std::string pk;  // primary key as text; empty for markers

    bool operator==(const Event&) const = default;
};

}  // namespace revalidator
