#include "wire.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <optional>

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include "cache/cache_key.hpp"
#include "runtime/padded_json.hpp"

namespace revalidator::wire {

using nlohmann::json;
namespace od = simdjson::ondemand;

namespace {

// The escapes nlohmann's dump() writes in a string (ensure_ascii off): a two-character escape for
// \b \t \n \f \r " and \\, \u00xx in lower-case hex for the other control characters, and every
// other byte as it is (bytes from 0x80 on are valid UTF-8, checked before).
constexpr char short_escape(unsigned char c) {
    switch (c) {
        case '\b':
            return 'b';
        case '\t':
            return 't';
        case '\n':
            return 'n';
        case '\f':
            return 'f';
        case '\r':
            return 'r';
        case '"':
            return '"';
        case '\\':
            return '\\';
        default:
            return 0;
    }
}

// How many bytes escaping adds to a byte.
constexpr std::array<std::uint8_t, 256> kEscapeAdds = [] {
    std::array<std::uint8_t, 256> adds{};
    for (unsigned char c = 0; c < 0x20; ++c) adds[c] = short_escape(c) != 0 ? 1 : 5;
    adds['"'] = adds['\\'] = 1;
    return adds;
}();

// What a string takes in the frame, quotes and escapes included, and whether it is all ASCII (if
// not, it is written only once its UTF-8 is checked).
struct Measured {
    std::size_t size = 0;
    bool escaped = false;
    bool ascii = true;
};

// Bytes eight at a time: the compiler does not vectorize a loop over a string's bytes. Each test
// is exact: it is non-zero only if some byte of `w` is what it looks for.
constexpr std::uint64_t kOnes = 0x0101010101010101;
constexpr std::uint64_t kHighBits = 0x8080808080808080;

constexpr std::uint64_t has_byte_below(std::uint64_t w, unsigned char bound) {
    return (w - kOnes * bound) & ~w & kHighBits;
}

constexpr std::uint64_t has_byte(std::uint64_t w, unsigned char c) {
    return has_byte_below(w ^ (kOnes * c), 1);
}

Measured measure(std::string_view s) {
    std::uint64_t escapes = 0;
    std::uint64_t high = 0;
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t w;
        std::memcpy(&w, s.data() + i, 8);
        escapes |= has_byte_below(w, 0x20) | has_byte(w, '"') | has_byte(w, '\\');
        high |= w;
    }
    for (; i < s.size(); ++i) {
        const auto byte = static_cast<unsigned char>(s[i]);
        escapes |= kEscapeAdds[byte];
        high |= byte;
    }
    std::size_t size = s.size() + 2;
    if (escapes != 0) {
        for (const char c : s) size += kEscapeAdds[static_cast<unsigned char>(c)];
    }
    return {size, escapes != 0, (high & kHighBits) == 0};
}

char* put(char* out, std::string_view text) {
    return std::copy(text.begin(), text.end(), out);
}

char* put_quoted(char* out, std::string_view s, const Measured& m) {
    static constexpr char kHex[] = "0123456789abcdef";
    *out++ = '"';
    if (!m.escaped) {
        out = put(out, s);
    } else {
        for (const char c : s) {
            const auto byte = static_cast<unsigned char>(c);
            if (kEscapeAdds[byte] == 0) {
                *out++ = c;
            } else if (const char e = short_escape(byte)) {
                *out++ = '\\';
                *out++ = e;
            } else {
                out = put(out, "\\u00");
                *out++ = kHex[byte >> 4];
                *out++ = kHex[byte & 0xf];
            }
        }
    }
    *out++ = '"';
    return out;
}

// Unsigned integers at their longest: 20 digits.
constexpr std::size_t kMaxDigits = 20;

char* put_decimal(char* out, std::uint64_t n) {
    return std::to_chars(out, out + kMaxDigits, n).ptr;
}

}  // namespace

std::string encode(const Event& e) {
    // The strings in the order they are written, the members in dump()'s (its objects are sorted
    // by key).
    enum { kOp, kPk, kSchema, kStream, kTable, kStrings };
    const std::string_view strings[kStrings] = {to_string(e.op), e.pk, e.schema, e.stream, e.table};
    Measured measured[kStrings];
    // The text around the values, the three numbers at their longest and the strings as escaped:
    // one allocation.
    std::size_t size =
        std::string_view(
            R"({"epoch":,"op":,"pk":,"schema":,"seq":,"stream":,"table":,"ts":,"v":1})")
            .size() +
        3 * kMaxDigits;
    for (int i = 0; i < kStrings; ++i) {
        const std::string_view s = strings[i];
        measured[i] = measure(s);
        // dump() refuses a string that is not valid UTF-8 with a type_error; the reference throws
        // it.
        if (!measured[i].ascii && !simdjson::validate_utf8(s.data(), s.size())) {
            return encode_reference(e);
        }
        size += measured[i].size;
    }
    const auto quoted = [&](char* out, int i) { return put_quoted(out, strings[i], measured[i]); };
    std::string out(size, '\0');
    char* p = out.data();
    p = put_decimal(put(p, R"({"epoch":)"), e.epoch);
    p = quoted(put(p, R"(,"op":)"), kOp);
    p = quoted(put(p, R"(,"pk":)"), kPk);
    p = quoted(put(p, R"(,"schema":)"), kSchema);
    p = put_decimal(put(p, R"(,"seq":)"), e.seq);
    p = quoted(put(p, R"(,"stream":)"), kStream);
    p = quoted(put(p, R"(,"table":)"), kTable);
    p = put_decimal(put(p, R"(,"ts":)"), e.received_us);
    p = put_decimal(put(p, R"(,"v":)"), kVersion);
    p = put(p, "}");
    out.resize(static_cast<std::size_t>(p - out.data()));
    return out;
}

std::string encode_reference(const Event& e) {
    json j = {{"v", kVersion},      {"stream", e.stream},  {"epoch", e.epoch},
              {"seq", e.seq},       {"ts", e.received_us}, {"op", to_string(e.op)},
              {"schema", e.schema}, {"table", e.table},    {"pk", e.pk}};
    return j.dump();
}

namespace {

// The fast parse: simdjson's On-Demand API. It decides a frame only when simdjson accepts all of
// it (every value read, so that all of it is validated), each member of v1 is there once with its
// type, and the event is valid; any other frame goes to decode_reference, which decides it and
// words the refusal. So a frame simdjson reads otherwise than nlohmann (a number beyond 64 bits, a
// byte order mark, a NUL byte where nlohmann's input ends, a member given twice, which nlohmann's
// DOM takes the last of) is never decided here, and every WireError is the reference's own.

// A member nested deeper than this in an unknown member goes to the reference: the walk that reads
// every value recurses, and simdjson does not bound the depth of what it is asked to read.
constexpr int kMaxDepth = 64;

enum Member : unsigned { kV, kStream, kEpoch, kSeq, kTs, kOp, kSchema, kTable, kPk, kUnknown };
constexpr unsigned kEveryMember = (1u << kUnknown) - 1;

Member member_named(std::string_view key) {
    static constexpr std::string_view kNames[] = {"v",  "stream", "epoch", "seq", "ts",
                                                  "op", "schema", "table", "pk"};
    for (unsigned m = 0; m < kUnknown; ++m) {
        if (key == kNames[m]) return static_cast<Member>(m);
    }
    return kUnknown;
}

// Reads `value` and all it holds: each string unescaped, each number and literal parsed.
bool read_whole(od::value value, int depth) {
    od::json_type type;
    if (depth > kMaxDepth || value.type().get(type)) return false;
    switch (type) {
        case od::json_type::object: {
            od::object object;
            if (value.get_object().get(object)) return false;
            for (auto field : object) {
                std::string_view key;
                od::value inner;
                if (field.unescaped_key().get(key) || field.value().get(inner) ||
                    !read_whole(inner, depth + 1)) {
                    return false;
                }
            }
            return true;
        }
        case od::json_type::array: {
            od::array array;
            if (value.get_array().get(array)) return false;
            for (auto element : array) {
                od::value inner;
                if (element.get(inner) || !read_whole(inner, depth + 1)) return false;
            }
            return true;
        }
        case od::json_type::string: {
            std::string_view s;
            return !value.get_string().get(s);
        }
        case od::json_type::number: {
            od::number n;
            return !value.get_number().get(n);
        }
        case od::json_type::boolean: {
            bool b = false;
            return !value.get_bool().get(b);
        }
        case od::json_type::null: {
            bool null = false;
            return !value.is_null().get(null) && null;
        }
    }
    return false;
}

bool read_string(od::value value, std::string& out) {
    std::string_view s;
    if (value.get_string().get(s)) return false;
    out = s;
    return true;
}

// An integer as simdjson reads it for uint64: decimal digits alone, no sign, fraction or exponent,
// within 64 bits; nlohmann reads that text as the same unsigned integer.
bool read_unsigned(od::value value, std::uint64_t& out) {
    return !value.get_uint64().get(out);
}

// The member `m` of a frame into `e` (the op's name into `op`); false if it is not of its type.
bool read_member(Member m, od::value value, Event& e, std::uint64_t& version, std::string& op) {
    switch (m) {
        case kV:
            return read_unsigned(value, version);
        case kStream:
            return read_string(value, e.stream);
        case kEpoch:
            return read_unsigned(value, e.epoch);
        case kSeq:
            return read_unsigned(value, e.seq);
        case kTs:
            return read_unsigned(value, e.received_us);
        case kOp:
            return read_string(value, op);
        case kSchema:
            return read_string(value, e.schema);
        case kTable:
            return read_string(value, e.table);
        case kPk:
            return read_string(value, e.pk);
        case kUnknown:
            return read_whole(value, 1);
    }
    return false;
}

// The event in `doc`, or nullopt when the reference is to decide it.
std::optional<Event> decode_document(od::document& doc) {
    od::object root;
    if (doc.get_object().get(root)) return std::nullopt;
    Event e;
    std::uint64_t version = 0;
    std::string op;
    unsigned seen = 0;
    for (auto field : root) {
        std::string_view key;
        od::value value;
        if (field.unescaped_key().get(key) || field.value().get(value)) return std::nullopt;
        const Member m = member_named(key);
        if (m != kUnknown) {
            if ((seen & (1u << m)) != 0) return std::nullopt;
            seen |= 1u << m;
        }
        if (!read_member(m, value, e, version, op)) return std::nullopt;
    }
    // simdjson 3.0 looks for content after the root only when the root is a scalar: past an
    // object, a position still inside the frame is content after it.
    if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) return std::nullopt;
    if (seen != kEveryMember || version != kVersion || e.stream.empty() || e.seq == 0) {
        return std::nullopt;
    }
    const auto parsed = parse_op(op);
    if (!parsed || (names_row(*parsed) && check_key_part(e.pk))) return std::nullopt;
    e.op = *parsed;
    return e;
}

// The event in `frame`, or nullopt when the reference is to decide it.
std::optional<Event> decode_fast(std::string_view frame) {
    return padded_json::parse(frame, std::optional<Event>(),
                              [](od::document& doc) { return decode_document(doc); });
}

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
    if (auto e = decode_fast(frame)) return std::move(*e);
    return decode_reference(frame);
}

Result<Event, WireError> decode_reference(std::string_view frame) {
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
    if (!parsed) return invalid("'op' must be INSERT, UPDATE, DELETE, RESYNC, END or HEARTBEAT");
    e.op = *parsed;
    if (!get_string(j, "schema", e.schema)) return invalid("'schema' must be a string");
    if (!get_string(j, "table", e.table)) return invalid("'table' must be a string");
    if (!get_string(j, "pk", e.pk)) return invalid("'pk' must be a string");
    if (names_row(e.op)) {
        if (auto bad = check_key_part(e.pk)) return invalid("'pk' " + *bad);
    }
    return e;
}

}  // namespace revalidator::wire
