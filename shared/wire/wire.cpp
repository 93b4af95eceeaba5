#include "wire.hpp"

#include <nlohmann/json.hpp>

#include "cache/cache_key.hpp"

namespace revalidator::wire {

using nlohmann::json;

std::string encode(const Event& e) {
    json j = {{"v", kVersion},      {"stream", e.stream},  {"epoch", e.epoch},
              {"seq", e.seq},       {"ts", e.received_us}, {"op", to_string(e.op)},
              {"schema", e.schema}, {"table", e.table},    {"pk", e.pk}};
    return j.dump();
}

namespace {

Err<WireError> invalid(std::string detail) {
    return Err{WireError{"invalid_field", std::move(detail)}};
}

bool get_string(const json& j, const char* name, std::string& out) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string()) return false;
    out = it->get<std::string>();
    return true;
}

bool get_u64(const json& j, const char* name, std::uint64_t& out) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_number_unsigned()) return false;
    out = it->get<std::uint64_t>();
    return true;
}

}  // namespace

Result<Event, WireError> decode(std::string_view frame) {
    json j = json::parse(frame, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
        return Err{WireError{"malformed", "frame is not a JSON object"}};
    }
    auto v = j.find("v");
    if (v == j.end() || !v->is_number_integer()) return invalid("'v' must be an integer");
    if (v->get<std::int64_t>() != kVersion) {
        return Err{
            WireError{"unknown_version", "version " + v->dump() + " is not supported (want 1)"}};
    }
    Event e;
    std::string op;
    if (!get_string(j, "stream", e.stream) || e.stream.empty())
        return invalid("'stream' must be a non-empty string");
    if (!get_u64(j, "epoch", e.epoch)) return invalid("'epoch' must be an unsigned integer");
    if (!get_u64(j, "seq", e.seq) || e.seq == 0) return invalid("'seq' must be a positive integer");
    if (!get_u64(j, "ts", e.received_us)) return invalid("'ts' must be an unsigned integer");
    if (!get_string(j, "op", op)) return invalid("'op' must be a string");
    auto parsed = parse_op(op);
    if (!parsed) return invalid("'op' must be INSERT, UPDATE, DELETE, END or HEARTBEAT");
    e.op = *parsed;
    if (!get_string(j, "schema", e.schema)) return invalid("'schema' must be a string");
    if (!get_string(j, "table", e.table)) return invalid("'table' must be a string");
    if (!get_string(j, "pk", e.pk)) return invalid("'pk' must be a string");
    if (!is_marker(e.op)) {
        if (auto bad = check_key_part(e.pk)) return invalid("'pk' " + *bad);
    }
    return e;
}

}  // namespace revalidator::wire
