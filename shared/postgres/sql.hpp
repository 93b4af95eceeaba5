// The SQL the worker sends, built once from the configuration. Pure string work, so the quoting,
// the ORDER BY validation and the array literal are unit-tested without a server.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/collection.hpp"
#include "runtime/result.hpp"

namespace revalidator::sql {

std::string quote_ident(std::string_view name);

// "title DESC, id" -> t."title" DESC, t."id". Only column names with an optional ASC/DESC are
// accepted. The primary key is appended when missing so that the order is total and the list is
// the same on every read.
Result<std::string, std::string> order_by(std::string_view spec, std::string_view primary_key);

// A Postgres text[] literal: {"a","b\"c"}.
std::string text_array(const std::vector<std::string>& items);

// How the primary key's type constrains ids. Ids that cannot be of the type are filtered out
// before the query (such rows cannot exist), since one bad id would fail the whole batch.
enum class KeyKind { Int16, Int32, Int64, Uuid, Other };
KeyKind key_kind(std::string_view format_type);

// `pk` as Postgres spells the key value it names (pk::text), so that ids compare as the key type
// compares them; nullopt when no value of the type has that spelling. An integer id is an
// optional sign and decimal digits within range: "007", "+7" and "7" all name row 7, "-0" is
// "0". Other spellings Postgres itself might accept ("0x7", "1_000", " 7") name no row here.
// A uuid is read as Postgres reads one (upper or lower case, optional braces, a hyphen allowed
// after any group of four digits) and spelled in its canonical lower-case form. Other key types
// are taken as given.
std::optional<std::string> canonical(KeyKind kind, std::string_view pk);

struct Queries {
    std::string rows;       // $1 text[] of ids -> (pk::text, to_jsonb::text) of the rows that exist
    std::string rows_text;  // the same, comparing as text: the fallback when a cast fails
    std::string all;        // -> (pk::text, to_jsonb::text) of every row, in list order
    // The anti-entropy pass's: (pk::text, md5(to_jsonb::text)) in primary key order, of the first
    // $1 rows; of the $2 rows after the key $1; of the rows whose keys are in $1 text[] (and the
    // same comparing as text, the fallback when a cast fails).
    std::string digests_first;
    std::string digests_after;
    std::string digests_of;
    std::string digests_of_text;
};

Queries build(std::string_view schema, std::string_view table, std::string_view primary_key,
              std::string_view key_type, std::string_view order_clause);

// A list view's rows, in its order: -> (pk::text, the element's JSON text) of the rows its filter
// keeps, the first `limit` of them, each the whole row (to_jsonb) or an object of its columns.
// The filter is the operator's SQL, put in parentheses as it is; Postgres checks it, and an error
// names the view (pg_source.cpp). Fails only when the order cannot be read (order_by).
Result<std::string, std::string> view(std::string_view schema, std::string_view table,
                                      std::string_view primary_key, const View& view);

// One row as the worker renders it, for a reader that does not know the key's type: $1 and $2 are
// the same id as text -> to_jsonb::text of the row keyed so. $1 is typed by the key column, so the
// key's index serves it and an id the type cannot hold fails with a data exception (class 22);
// $2 keeps another spelling of the key ("007" for 7) from naming the row, since its cache key is
// spelled as pk::text.
std::string one_row(std::string_view schema, std::string_view table, std::string_view primary_key);

}  // namespace revalidator::sql
