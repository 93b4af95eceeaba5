#include "sql.hpp"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>

namespace revalidator::sql {

std::string quote_ident(std::string_view name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

namespace {

std::string trim(std::string_view s) {
    auto b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) return "";
    auto e = s.find_last_not_of(" \t");
    return std::string(s.substr(b, e - b + 1));
}

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

bool is_column_name(std::string_view s) {
    if (s.empty() || s.size() > 63) return false;
    if (!std::isalpha(static_cast<unsigned char>(s[0])) && s[0] != '_') return false;
    for (char c : s) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
    }
    return true;
}

template <class T>
std::optional<std::string> integer_text(std::string_view s) {
    // from_chars takes a '-' but not a '+'; a '+' must be followed by a digit.
    if (!s.empty() && s.front() == '+') {
        s.remove_prefix(1);
        if (s.empty() || s.front() == '-') return std::nullopt;
    }
    T v{};
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return std::to_string(v);
}

}  // namespace

Result<std::string, std::string> order_by(std::string_view spec, std::string_view primary_key) {
    std::string clause;
    bool has_pk = false;
    // Split by hand: std::getline drops a trailing empty term ("title,"). An empty spec means
    // the primary key alone.
    std::size_t first = trim(spec).empty() ? std::string_view::npos : 0;
    for (std::size_t start = 0, comma = first; comma != std::string_view::npos; start = comma + 1) {
        comma = spec.find(',', start);
        std::string term =
            trim(spec.substr(start, comma == std::string_view::npos ? comma : comma - start));
        std::string column = term, direction;
        if (auto sp = term.find(' '); sp != std::string::npos) {
            column = term.substr(0, sp);
            direction = upper(trim(std::string_view(term).substr(sp)));
        }
        if (!is_column_name(column)) return Err{"'" + term + "' is not a column name"};
        if (!direction.empty() && direction != "ASC" && direction != "DESC") {
            return Err{"'" + term + "': direction must be ASC or DESC"};
        }
        has_pk |= column == primary_key;
        clause += (clause.empty() ? "" : ", ") + std::string("t.") + quote_ident(column) +
                  (direction.empty() ? "" : " " + direction);
    }
    if (!has_pk)
        clause += (clause.empty() ? "" : ", ") + std::string("t.") + quote_ident(primary_key);
    return clause;
}

std::string text_array(const std::vector<std::string>& items) {
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ',';
        out += '"';
        for (char c : items[i]) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    return out + "}";
}

namespace {

// Postgres' uuid_in: 32 hex digits, in either case, optionally in braces, with one '-' allowed
// after each group of four digits but the last.
std::optional<std::string> uuid_text(std::string_view s) {
    if (s.size() >= 2 && s.front() == '{' && s.back() == '}') s = s.substr(1, s.size() - 2);
    std::string digits;
    std::size_t at = 0;
    while (digits.size() < 32) {
        for (int i = 0; i < 4; ++i, ++at) {
            if (at >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[at]))) {
                return std::nullopt;
            }
            digits += static_cast<char>(std::tolower(static_cast<unsigned char>(s[at])));
        }
        if (digits.size() < 32 && at < s.size() && s[at] == '-') ++at;
    }
    if (at != s.size()) return std::nullopt;
    return digits.substr(0, 8) + "-" + digits.substr(8, 4) + "-" + digits.substr(12, 4) + "-" +
           digits.substr(16, 4) + "-" + digits.substr(20);
}

}  // namespace

KeyKind key_kind(std::string_view t) {
    if (t == "smallint") return KeyKind::Int16;
    if (t == "integer") return KeyKind::Int32;
    if (t == "bigint") return KeyKind::Int64;
    if (t == "uuid") return KeyKind::Uuid;
    return KeyKind::Other;
}

std::optional<std::string> canonical(KeyKind kind, std::string_view pk) {
    switch (kind) {
        case KeyKind::Int16:
            return integer_text<std::int16_t>(pk);
        case KeyKind::Int32:
            return integer_text<std::int32_t>(pk);
        case KeyKind::Int64:
            return integer_text<std::int64_t>(pk);
        case KeyKind::Uuid:
            return uuid_text(pk);
        case KeyKind::Other:
            break;
    }
    return std::string(pk);
}

Queries build(std::string_view schema, std::string_view table, std::string_view primary_key,
              std::string_view key_type, std::string_view order_clause) {
    std::string rel = quote_ident(schema) + "." + quote_ident(table) + " t";
    std::string pk = "t." + quote_ident(primary_key);
    std::string select = "SELECT " + pk + "::text, to_jsonb(t)::text FROM " + rel;
    Queries q;
    q.rows = select + " WHERE " + pk + " = ANY($1::text[]::" + std::string(key_type) + "[])";
    q.rows_text = select + " WHERE " + pk + "::text = ANY($1::text[])";
    q.all = select + " ORDER BY " + std::string(order_clause);
    const std::string digests = "SELECT " + pk + "::text, md5(to_jsonb(t)::text) FROM " + rel;
    const std::string by_key = " ORDER BY " + pk;
    q.digests_first = digests + by_key + " LIMIT $1";
    q.digests_after =
        digests + " WHERE " + pk + " > $1::" + std::string(key_type) + by_key + " LIMIT $2";
    q.digests_of = digests + " WHERE " + pk + " = ANY($1::text[]::" + std::string(key_type) + "[])";
    q.digests_of_text = digests + " WHERE " + pk + "::text = ANY($1::text[])";
    return q;
}

Result<std::string, std::string> view(std::string_view schema, std::string_view table,
                                      std::string_view primary_key, const View& v) {
    auto order =
        order_by(v.order_by.empty() ? primary_key : std::string_view(v.order_by), primary_key);
    if (!order) return Err{order.error()};
    std::string element = "to_jsonb(t)";
    if (!v.columns.empty()) {
        element = "jsonb_build_object(";
        for (std::size_t i = 0; i < v.columns.size(); ++i) {
            std::string name;
            for (char c : v.columns[i]) name += c == '\'' ? std::string("''") : std::string(1, c);
            element += (i ? ", '" : "'") + name + "', t." + quote_ident(v.columns[i]);
        }
        element += ")";
    }
    std::string q = "SELECT t." + quote_ident(primary_key) + "::text, " + element + "::text FROM " +
                    quote_ident(schema) + "." + quote_ident(table) + " t";
    if (!v.filter.empty()) q += " WHERE (" + v.filter + ")";
    q += " ORDER BY " + *order;
    if (v.limit > 0) q += " LIMIT " + std::to_string(v.limit);
    return q;
}

std::string one_row(std::string_view schema, std::string_view table, std::string_view primary_key) {
    std::string pk = "t." + quote_ident(primary_key);
    return "SELECT to_jsonb(t)::text FROM " + quote_ident(schema) + "." + quote_ident(table) +
           " t WHERE " + pk + " = $1 AND " + pk + "::text = $2";
}

}  // namespace revalidator::sql
