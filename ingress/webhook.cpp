#include "webhook.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>
#include <vector>

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include "cache/cache_key.hpp"
#include "http/field_text.hpp"
#include "runtime/padded_json.hpp"

namespace revalidator::ingress {

using nlohmann::json;
namespace od = simdjson::ondemand;

namespace {

Err<Rejection> reject(int status, std::string code, std::string detail) {
    return Err{Rejection{status, std::move(code), std::move(detail)}};
}

enum class Kind { Absent, Null, Boolean, Integer, Fractional, String, Object, Array };

// As the details name a value's type (nlohmann's type_name(), a fractional number told apart).
const char* kind_name(Kind k) {
    switch (k) {
        case Kind::Null:
            return "a null";
        case Kind::Boolean:
            return "a boolean";
        case Kind::Integer:
            return "a number";
        case Kind::Fractional:
            return "a fractional number";
        case Kind::String:
            return "a string";
        case Kind::Object:
            return "a object";
        case Kind::Array:
            return "a array";
        case Kind::Absent:
            break;
    }
    return "nothing";
}

// A value the parse keeps: its kind, and its text when it is a string (unescaped) or an integer
// (in decimal, as nlohmann's dump() writes it: "-0" is "0").
struct Kept {
    Kind kind = Kind::Absent;
    std::string text;
};

// record or old_record: its kind, and when it is an object the values of the keys that are a
// served table's primary key, each at the index of the first table with that key's name.
struct Row {
    Kind kind = Kind::Absent;
    std::vector<Kept> keys;
};

enum class Field { Other, Type, Schema, Table, Record, OldRecord };

// The size nlohmann's parser reports for an object or array as it starts: not known yet.
constexpr std::size_t kUnknownSize = static_cast<std::size_t>(-1);

// What a body holds of the fields a webhook is read for, gathered from the events of a SAX parse
// (nlohmann's interface; scan_fast() replays simdjson's values as the same events): no tree of a
// row that is never looked at. A key given twice counts with its last value, as in a DOM.
class Scan {
  public:
    explicit Scan(std::span<const Table> tables) : tables_(tables) {}

    bool null() { return scalar(Kind::Null); }
    bool boolean(bool) { return scalar(Kind::Boolean); }
    bool number_integer(json::number_integer_t v) { return integer(v); }
    bool number_unsigned(json::number_unsigned_t v) { return integer(v); }
    bool number_float(json::number_float_t, std::string_view) { return scalar(Kind::Fractional); }
    bool string(std::string_view s) {
        if (Kept* kept = take(Kind::String)) kept->text = s;
        return true;
    }
    // JSON text holds no binary values; the SAX interface has the call all the same.
    bool binary(json::binary_t&) { return true; }
    bool start_object(std::size_t) { return open(Kind::Object); }
    bool start_array(std::size_t) { return open(Kind::Array); }
    bool end_object() { return close(); }
    bool end_array() { return close(); }
    bool key(std::string_view name) {
        if (depth_ == 1) {
            field_ = field_named(name);
        } else if (depth_ == 2 && (field_ == Field::Record || field_ == Field::OldRecord)) {
            pk_ = key_slot(row(field_), name);
        }
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const json::exception& e) {
        error_ = e.what();
        return false;
    }

    bool too_deep() const { return too_deep_; }
    const std::string& error() const { return error_; }
    Kind root() const { return root_; }
    const Kept& type() const { return type_; }
    const Kept& schema() const { return schema_; }
    const Kept& table() const { return table_; }
    const Row& record() const { return record_; }
    const Row& old_record() const { return old_record_; }

  private:
    static Field field_named(std::string_view name) {
        if (name == "type") return Field::Type;
        if (name == "schema") return Field::Schema;
        if (name == "table") return Field::Table;
        if (name == "record") return Field::Record;
        if (name == "old_record") return Field::OldRecord;
        return Field::Other;
    }
    Row& row(Field f) { return f == Field::Record ? record_ : old_record_; }

    // Where a row keeps the value of key `name`, or nullptr when no served table is keyed by it.
    Kept* key_slot(Row& r, std::string_view name) {
        for (std::size_t i = 0; i < tables_.size(); ++i) {
            if (tables_[i].primary_key != name) continue;
            if (r.keys.empty()) r.keys.resize(tables_.size());
            return &r.keys[i];
        }
        return nullptr;
    }

    // Records a value starting at the current depth; returns where its text goes when it is kept.
    Kept* take(Kind kind) {
        Kept* kept = nullptr;
        if (depth_ == 0) {
            root_ = kind;
        } else if (depth_ == 1) {
            switch (field_) {
                case Field::Type:
                    kept = &type_;
                    break;
                case Field::Schema:
                    kept = &schema_;
                    break;
                case Field::Table:
                    kept = &table_;
                    break;
                case Field::Record:
                case Field::OldRecord:
                    row(field_).kind = kind;
                    row(field_).keys.clear();
                    break;
                case Field::Other:
                    break;
            }
        } else if (depth_ == 2) {
            kept = std::exchange(pk_, nullptr);
        }
        if (kept != nullptr) {
            kept->kind = kind;
            kept->text.clear();
        }
        return kept;
    }

    bool scalar(Kind kind) {
        take(kind);
        return true;
    }

    template <class Int>
    bool integer(Int v) {
        if (Kept* kept = take(Kind::Integer)) {
            char digits[24];
            auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
            kept->text.assign(digits, end);
        }
        return true;
    }

    // The depth bound holds while parsing: a deeper body is refused at its 65th level, unread
    // beyond.
    bool open(Kind kind) {
        take(kind);
        too_deep_ = ++depth_ > kMaxJsonDepth;
        return !too_deep_;
    }

    bool close() {
        --depth_;
        return true;
    }

    std::span<const Table> tables_;
    int depth_ = 0;
    Field field_ = Field::Other;  // what the last key at depth 1 named
    Kept* pk_ = nullptr;          // where the value after the last key at depth 2 goes
    bool too_deep_ = false;
    std::string error_;
    Kind root_ = Kind::Absent;
    Kept type_, schema_, table_;
    Row record_, old_record_;
};

Result<const std::string*, Rejection> string_field(const Kept& field, const char* name) {
    if (field.kind == Kind::Absent)
        return reject(400, "missing_field", std::string("field '") + name + "' is required");
    if (field.kind != Kind::String) {
        return reject(
            400, "invalid_field",
            std::string("field '") + name + "' must be a string, got " + kind_name(field.kind));
    }
    return &field.text;
}

// record / old_record: an object, null, or absent (treated as null).
Result<const Row*, Rejection> row_field(const Row& row, const char* name) {
    if (row.kind == Kind::Absent || row.kind == Kind::Null) return static_cast<const Row*>(nullptr);
    if (row.kind != Kind::Object) {
        return reject(400, "invalid_field",
                      std::string("field '") + name + "' must be an object or null, got " +
                          kind_name(row.kind));
    }
    return &row;
}

// `key` is the index of the first served table keyed by the column named `pk_name`.
Result<std::string, Rejection> primary_key(const Row* row, const char* row_name, std::size_t key,
                                           const std::string& pk_name, std::string_view op) {
    std::string field = std::string(row_name) + "." + pk_name;
    if (row == nullptr) {
        return reject(
            400, "missing_field",
            std::string("field '") + row_name + "' must be an object for " + std::string(op));
    }
    const Kind kind = row->keys.empty() ? Kind::Absent : row->keys[key].kind;
    if (kind == Kind::Absent || kind == Kind::Null) {
        return reject(400, "missing_field",
                      "field '" + field + "' is required for " + std::string(op));
    }
    if (kind != Kind::Integer && kind != Kind::String) {
        return reject(
            422, "invalid_id",
            "field '" + field + "' must be an integer or a string, got " + kind_name(kind));
    }
    const std::string& pk = row->keys[key].text;
    if (auto bad = check_key_part(pk)) {
        return reject(422, "invalid_id", "field '" + field + "' cannot be a cache key: it " + *bad);
    }
    return pk;
}

// The webhook's fields checked against the contract: the changes it names, or why it is refused.
Result<Routed, Rejection> route(const Scan& scan, std::span<const Table> tables) {
    if (scan.root() != Kind::Object) {
        return reject(400, "invalid_body",
                      std::string("body must be a JSON object, got ") + kind_name(scan.root()));
    }

    auto type = string_field(scan.type(), "type");
    if (!type) return Err{type.error()};
    // A TRUNCATE comes from a statement trigger (Supabase's webhooks are row triggers and send
    // nothing for it): no row to name, so the whole table is resynced.
    const bool truncate = **type == "TRUNCATE";
    auto op = truncate ? std::optional(Op::Resync) : parse_op(**type);
    if (!op || !(truncate || names_row(*op))) {
        return reject(
            400, "invalid_field",
            "field 'type' must be INSERT, UPDATE, DELETE or TRUNCATE, got \"" + **type + "\"");
    }
    auto schema = string_field(scan.schema(), "schema");
    if (!schema) return Err{schema.error()};
    auto table = string_field(scan.table(), "table");
    if (!table) return Err{table.error()};
    auto record = row_field(scan.record(), "record");
    if (!record) return Err{record.error()};
    auto old_record = row_field(scan.old_record(), "old_record");
    if (!old_record) return Err{old_record.error()};

    const auto served = std::find_if(tables.begin(), tables.end(),
                                     [&](const Table& t) { return t.is(**schema, **table); });
    if (served == tables.end()) {
        std::string names;
        for (const auto& t : tables)
            names += (names.empty() ? "\"" : ", \"") + t.qualified() + "\"";
        return reject(422, "unknown_table",
                      "table \"" + **schema + "." + **table +
                          "\" is not configured (this ingress serves " + names + ")");
    }
    const Table& cfg = *served;
    // The rows keep the key under the first table with that primary key's name (Scan::key_slot).
    const std::size_t key = static_cast<std::size_t>(
        std::find_if(tables.begin(), served,
                     [&](const Table& t) { return t.primary_key == cfg.primary_key; }) -
        tables.begin());
    Routed routed{.table = static_cast<std::size_t>(served - tables.begin()), .changes = {}};
    auto& changes = routed.changes;
    if (*op == Op::Resync) {
        changes.push_back({*op, ""});
        return routed;
    }
    std::string_view op_name = to_string(*op);
    if (*op == Op::Delete) {
        auto pk = primary_key(*old_record, "old_record", key, cfg.primary_key, op_name);
        if (!pk) return Err{pk.error()};
        changes.push_back({*op, std::move(*pk)});
        return routed;
    }
    auto pk = primary_key(*record, "record", key, cfg.primary_key, op_name);
    if (!pk) return Err{pk.error()};
    changes.push_back({*op, std::move(*pk)});
    // An UPDATE that changes the primary key moves the row: the old key must go too.
    if (*op == Op::Update && *old_record != nullptr) {
        auto old_pk = primary_key(*old_record, "old_record", key, cfg.primary_key, op_name);
        if (old_pk && *old_pk != changes.front().pk) {
            changes.push_back({Op::Delete, std::move(*old_pk)});
        }
    }
    return routed;
}

// The two parses. scan_fast() runs simdjson's On-Demand parser, 7 to 14 times faster than
// nlohmann's on webhook bodies (bench/micro/webhook_parse.cpp). It words its refusals otherwise,
// and it refuses some texts nlohmann accepts (a number beyond 64 bits, a byte order mark, a NUL
// byte, where nlohmann's input ends), so it decides only the bodies it accepts whole. Every other
// body goes through scan_exact(), nlohmann's parser, which decides it and words its refusal:
// parse_webhook_reference() is that path alone, and the tests hold both to the same answers.

bool replay(od::value value, Scan& scan);

bool replay_fields(od::object object, Scan& scan) {
    if (!scan.start_object(kUnknownSize)) return false;
    for (auto field : object) {
        std::string_view key;
        od::value value;
        if (field.unescaped_key().get(key) || !scan.key(key) || field.value().get(value) ||
            !replay(value, scan)) {
            return false;
        }
    }
    return scan.end_object();
}

// Every value is read in full (every string unescaped, every number and literal parsed), so that
// simdjson checks all of the body, not only what the scan keeps.
bool replay(od::value value, Scan& scan) {
    od::json_type type;
    if (value.type().get(type)) return false;
    switch (type) {
        case od::json_type::object: {
            od::object object;
            return !value.get_object().get(object) && replay_fields(object, scan);
        }
        case od::json_type::array: {
            od::array array;
            if (value.get_array().get(array) || !scan.start_array(kUnknownSize)) return false;
            for (auto element : array) {
                od::value inner;
                if (element.get(inner) || !replay(inner, scan)) return false;
            }
            return scan.end_array();
        }
        case od::json_type::string: {
            std::string_view s;
            return !value.get_string().get(s) && scan.string(s);
        }
        case od::json_type::number: {
            od::number n;
            if (value.get_number().get(n)) return false;
            switch (n.get_number_type()) {
                case od::number_type::signed_integer:
                    return scan.number_integer(n.get_int64());
                case od::number_type::unsigned_integer:
                    return scan.number_unsigned(n.get_uint64());
                case od::number_type::floating_point_number:
                    return scan.number_float(n.get_double(), {});
            }
            return false;
        }
        case od::json_type::boolean: {
            bool b = false;
            return !value.get_bool().get(b) && scan.boolean(b);
        }
        case od::json_type::null: {
            bool null = false;
            return !value.is_null().get(null) && null && scan.null();
        }
    }
    return false;
}

// True when simdjson accepted the whole body, an object, and `scan` holds its fields; false
// otherwise, and `scan` is then to be dropped.
bool scan_fast(std::string_view body, Scan& scan) {
    return padded_json::parse(body, false, [&](od::document& doc) {
        od::object root;
        if (doc.get_object().get(root) || !replay_fields(root, scan)) return false;
        // simdjson 3.0 looks for content after the root only when the root is a scalar: past an
        // object, a position still inside the body is content after it.
        return doc.current_location().error() == simdjson::OUT_OF_BOUNDS;
    });
}

// nlohmann's parser: the refusal of a body it does not accept, worded as it words it, or nullopt
// with `scan` holding the fields.
std::optional<Rejection> scan_exact(std::string_view body, Scan& scan) {
    const bool parsed = json::sax_parse(body, &scan);
    // The depth bound counts every bracket of the body outside strings, and a fault of depth is
    // told before any other. Where the parse alone cannot tell, the brackets are counted: a
    // malformed body may nest too deep past its fault, and what follows a NUL byte is never
    // parsed.
    if (!parsed || body.find('\0') != std::string_view::npos) {
        if (scan.too_deep() || nested_deeper_than(body, kMaxJsonDepth)) {
            return Rejection{
                400, "malformed_json",
                "body is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
        }
        if (!parsed) return Rejection{400, "malformed_json", scan.error()};
    }
    return std::nullopt;
}

}  // namespace

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

bool is_json_content_type(std::string_view content_type) {
    std::string_view media = content_type.substr(0, content_type.find(';'));
    while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
    return http::iequals(media, "application/json");
}

Result<Routed, Rejection> parse_webhook(std::string_view body, std::span<const Table> tables) {
    Scan fast(tables);
    if (scan_fast(body, fast)) return route(fast, tables);
    return parse_webhook_reference(body, tables);
}

Result<Routed, Rejection> parse_webhook_reference(std::string_view body,
                                                  std::span<const Table> tables) {
    Scan exact(tables);
    if (auto refused = scan_exact(body, exact)) return Err{std::move(*refused)};
    return route(exact, tables);
}

}  // namespace revalidator::ingress
