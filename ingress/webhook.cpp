#include "webhook.hpp"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "cache/cache_key.hpp"

namespace revalidator::ingress {

using nlohmann::json;

namespace {

Err<Rejection> reject(int status, std::string code, std::string detail) {
    return Err{Rejection{status, std::move(code), std::move(detail)}};
}

// nlohmann's parser is iterative, but a body nested thousands deep still costs memory and time
// for nothing: a webhook is at most a few levels deep. One pass, strings skipped.
bool nested_deeper_than(std::string_view s, int limit) {
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > limit) return true;
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return false;
}

std::string type_name(const json& v) {
    if (v.is_number_float()) return "a fractional number";
    if (v.is_number()) return "a number";
    return std::string("a ") + v.type_name();
}

Result<std::string, Rejection> string_field(const json& body, const char* name) {
    auto it = body.find(name);
    if (it == body.end())
        return reject(400, "missing_field", std::string("field '") + name + "' is required");
    if (!it->is_string()) {
        return reject(400, "invalid_field",
                      std::string("field '") + name + "' must be a string, got " + type_name(*it));
    }
    return it->get<std::string>();
}

// record / old_record: an object, null, or absent (treated as null).
Result<const json*, Rejection> row_field(const json& body, const char* name) {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) return static_cast<const json*>(nullptr);
    if (!it->is_object()) {
        return reject(
            400, "invalid_field",
            std::string("field '") + name + "' must be an object or null, got " + type_name(*it));
    }
    return &*it;
}

Result<std::string, Rejection> primary_key(const json* row, const char* row_name,
                                           const std::string& pk_name, std::string_view op) {
    std::string field = std::string(row_name) + "." + pk_name;
    if (row == nullptr) {
        return reject(
            400, "missing_field",
            std::string("field '") + row_name + "' must be an object for " + std::string(op));
    }
    auto it = row->find(pk_name);
    if (it == row->end() || it->is_null()) {
        return reject(400, "missing_field",
                      "field '" + field + "' is required for " + std::string(op));
    }
    std::string pk;
    if (it->is_number_integer()) {
        pk = it->dump();
    } else if (it->is_string()) {
        pk = it->get<std::string>();
    } else {
        return reject(
            422, "invalid_id",
            "field '" + field + "' must be an integer or a string, got " + type_name(*it));
    }
    if (auto bad = check_key_part(pk)) {
        return reject(422, "invalid_id", "field '" + field + "' cannot be a cache key: it " + *bad);
    }
    return pk;
}

}  // namespace

bool is_json_content_type(std::string_view content_type) {
    std::string_view media = content_type.substr(0, content_type.find(';'));
    while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
    constexpr std::string_view want = "application/json";
    return media.size() == want.size() &&
           std::equal(media.begin(), media.end(), want.begin(), [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a)) == b;
           });
}

Result<Routed, Rejection> parse_webhook(std::string_view body, std::span<const Table> tables) {
    if (nested_deeper_than(body, kMaxJsonDepth)) {
        return reject(400, "malformed_json",
                      "body is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    json j;
    try {
        j = json::parse(body);
    } catch (const json::exception& e) {
        // parse_error, and out_of_range for a number beyond double (1e400): both are bad input.
        return reject(400, "malformed_json", e.what());
    }
    if (!j.is_object())
        return reject(400, "invalid_body", "body must be a JSON object, got " + type_name(j));

    auto type = string_field(j, "type");
    if (!type) return Err{type.error()};
    auto op = parse_op(*type);
    if (!op || is_marker(*op)) {
        return reject(400, "invalid_field",
                      "field 'type' must be INSERT, UPDATE or DELETE, got \"" + *type + "\"");
    }
    auto schema = string_field(j, "schema");
    if (!schema) return Err{schema.error()};
    auto table = string_field(j, "table");
    if (!table) return Err{table.error()};
    auto record = row_field(j, "record");
    if (!record) return Err{record.error()};
    auto old_record = row_field(j, "old_record");
    if (!old_record) return Err{old_record.error()};

    const auto served = std::find_if(tables.begin(), tables.end(),
                                     [&](const Table& t) { return t.is(*schema, *table); });
    if (served == tables.end()) {
        std::string names;
        for (const auto& t : tables)
            names += (names.empty() ? "\"" : ", \"") + t.qualified() + "\"";
        return reject(422, "unknown_table",
                      "table \"" + *schema + "." + *table +
                          "\" is not configured (this ingress serves " + names + ")");
    }
    const Table& cfg = *served;
    Routed routed{.table = static_cast<std::size_t>(served - tables.begin()), .changes = {}};
    auto& changes = routed.changes;
    std::string_view op_name = to_string(*op);
    if (*op == Op::Delete) {
        auto pk = primary_key(*old_record, "old_record", cfg.primary_key, op_name);
        if (!pk) return Err{pk.error()};
        changes.push_back({*op, std::move(*pk)});
        return routed;
    }
    auto pk = primary_key(*record, "record", cfg.primary_key, op_name);
    if (!pk) return Err{pk.error()};
    changes.push_back({*op, *pk});
    // An UPDATE that changes the primary key moves the row: the old key must go too.
    if (*op == Op::Update && *old_record != nullptr) {
        auto old_pk = primary_key(*old_record, "old_record", cfg.primary_key, op_name);
        if (old_pk && *old_pk != *pk) changes.push_back({Op::Delete, std::move(*old_pk)});
    }
    return routed;
}

}  // namespace revalidator::ingress
