// parse_webhook and is_json_content_type: the ingress's input contract (docs/architecture.md,
// "The webhook"). One table of bodies, each with the exact outcome it must produce.
#include "webhook.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "param_names.hpp"

namespace revalidator::ingress {
namespace {

// An answer as one line: the table and changes, or the refusal's status, code and detail.
std::string answer(const Result<Routed, Rejection>& r) {
    if (!r) {
        return std::to_string(r.error().status) + " " + r.error().code + ": " + r.error().detail;
    }
    std::string out = "table " + std::to_string(r->table);
    for (const auto& c : r->changes) out += " " + std::string(to_string(c.op)) + ":" + c.pk;
    return out;
}

// parse_webhook's answer must be parse_webhook_reference's, whichever parser took the body.
void expect_same_as_reference(std::string_view body, std::span<const Table> tables) {
    EXPECT_EQ(answer(parse_webhook(body, tables)), answer(parse_webhook_reference(body, tables)))
        << "body: " << body.substr(0, 200);
}

// parse_webhook for an ingress that serves `table` alone.
Result<std::vector<Change>, Rejection> parse(std::string_view body, const Table& table = {}) {
    auto r = parse_webhook(body, std::span(&table, 1));
    if (!r) return Err{r.error()};
    return std::move(r->changes);
}

// A Supabase Database Webhook body for public.articles.
std::string body(const std::string& type, const std::string& record,
                 const std::string& old_record = "null", const std::string& table = "articles",
                 const std::string& schema = "public") {
    return R"({"type":")" + type + R"(","table":")" + table + R"(","schema":")" + schema +
           R"(","record":)" + record + R"(,"old_record":)" + old_record + "}";
}

// A record whose "id" is the given JSON text.
std::string rec(const std::string& id_json) {
    return R"({"id":)" + id_json + R"(,"title":"hello"})";
}

// A body whose record holds a value nested so that the deepest bracket is at `depth` (the body
// itself is level 1, the record level 2).
std::string nested_body(int depth) {
    std::string value = std::string(depth - 2, '[') + std::string(depth - 2, ']');
    return body("INSERT", R"({"id":1,"deep":)" + value + "}");
}

// The same with objects: {"a":{"a":...{}...}} down to `depth`.
std::string nested_objects(int depth) {
    std::string value = "{}";
    for (int i = 4; i <= depth; ++i) value = R"({"a":)" + value + "}";
    return body("INSERT", R"({"id":1,"deep":)" + value + "}");
}

// Renders changes as "UPDATE:3,DELETE:2" so that a table row can say what it expects.
std::string render(const std::vector<Change>& changes) {
    std::string out;
    for (const auto& c : changes) {
        if (!out.empty()) out += ',';
        out += std::string(to_string(c.op)) + ":" + c.pk;
    }
    return out;
}

constexpr int kOk = 0;

struct Case {
    std::string name;
    std::string body;
    int status;             // kOk when the body is accepted
    std::string code;       // the error code, or the rendered changes when accepted
    std::string in_detail;  // a substring of the rejection's detail ("" when accepted)
};

std::vector<Case> cases() {
    const std::string id200(200, 'x');
    const std::string id201(201, 'x');
    return {
        // Accepted.
        {"insert_integer_id", body("INSERT", rec("1")), kOk, "INSERT:1", ""},
        {"insert_string_id", body("INSERT", rec(R"("abc-123")")), kOk, "INSERT:abc-123", ""},
        {"insert_uuid_id", body("INSERT", rec(R"("0b6f0a2e-8a4f-4c1e-9b7a-3f1d2c3b4a59")")), kOk,
         "INSERT:0b6f0a2e-8a4f-4c1e-9b7a-3f1d2c3b4a59", ""},
        {"insert_negative_id", body("INSERT", rec("-5")), kOk, "INSERT:-5", ""},
        {"insert_max_unsigned_id", body("INSERT", rec("18446744073709551615")), kOk,
         "INSERT:18446744073709551615", ""},
        {"insert_multibyte_id", body("INSERT", rec(R"("caf\u00e9-\u20ac")")), kOk,
         "INSERT:caf\xc3\xa9-\xe2\x82\xac", ""},
        {"insert_id_of_200_bytes", body("INSERT", rec("\"" + id200 + "\"")), kOk, "INSERT:" + id200,
         ""},
        {"insert_without_old_record",
         R"({"type":"INSERT","table":"articles","schema":"public","record":{"id":7}})", kOk,
         "INSERT:7", ""},
        {"insert_extra_fields_ignored",
         R"({"type":"INSERT","table":"articles","schema":"public","record":{"id":8},)"
         R"("old_record":null,"commit_timestamp":"2024-01-01T00:00:00Z"})",
         kOk, "INSERT:8", ""},
        {"insert_surrounding_whitespace", " \n\t" + body("INSERT", rec("9")) + "\r\n ", kOk,
         "INSERT:9", ""},
        {"update_same_pk", body("UPDATE", rec("2"), rec("2")), kOk, "UPDATE:2", ""},
        {"update_old_record_null", body("UPDATE", rec("2")), kOk, "UPDATE:2", ""},
        {"update_changes_pk", body("UPDATE", rec("3"), rec("2")), kOk, "UPDATE:3,DELETE:2", ""},
        {"update_changes_string_pk", body("UPDATE", rec(R"("new")"), rec(R"("old")")), kOk,
         "UPDATE:new,DELETE:old", ""},
        {"update_integer_and_string_same_pk", body("UPDATE", rec("7"), rec(R"("7")")), kOk,
         "UPDATE:7", ""},
        {"delete", body("DELETE", "null", rec("4")), kOk, "DELETE:4", ""},
        {"delete_string_id", body("DELETE", "null", rec(R"("gone")")), kOk, "DELETE:gone", ""},
        {"delete_without_record",
         R"({"type":"DELETE","table":"articles","schema":"public","old_record":{"id":5}})", kOk,
         "DELETE:5", ""},
        {"insert_surrogate_pair_id", body("INSERT", rec(R"("\ud83d\ude00")")), kOk,
         "INSERT:\xf0\x9f\x98\x80", ""},
        {"insert_escaped_quote_slash_backslash_id", body("INSERT", rec(R"("a\/b\"c\\d")")), kOk,
         "INSERT:a/b\"c\\d", ""},
        {"insert_escaped_key_names",
         R"({"typ\u0065":"INSERT","t\u0061ble":"articles","schema":"public",)"
         R"("record":{"i\u0064":7}})",
         kOk, "INSERT:7", ""},
        {"insert_negative_zero_id", body("INSERT", rec("-0")), kOk, "INSERT:0", ""},
        // A TRUNCATE, as the statement trigger of schema/truncate_webhook.sql sends it: the whole
        // table, no row.
        {"truncate", body("TRUNCATE", "null"), kOk, "RESYNC:", ""},
        {"truncate_without_rows", R"({"type":"TRUNCATE","table":"articles","schema":"public"})",
         kOk, "RESYNC:", ""},
        {"truncate_rows_ignored", body("TRUNCATE", rec("1"), rec("2")), kOk, "RESYNC:", ""},
        {"truncate_unknown_table", body("TRUNCATE", "null", "null", "notes"), 422, "unknown_table",
         "\"public.notes\""},
        {"truncate_record_string", body("TRUNCATE", R"("all")"), 400, "invalid_field",
         "'record' must be an object or null, got a string"},
        {"truncate_missing_schema", R"({"type":"TRUNCATE","table":"articles"})", 400,
         "missing_field", "'schema'"},
        {"insert_min_int64_id", body("INSERT", rec("-9223372036854775808")), kOk,
         "INSERT:-9223372036854775808", ""},
        {"insert_max_int64_plus_one_id", body("INSERT", rec("9223372036854775808")), kOk,
         "INSERT:9223372036854775808", ""},
        // A key given twice counts with its last value.
        {"duplicate_id_last_wins", body("INSERT", R"({"id":1,"id":2})"), kOk, "INSERT:2", ""},
        {"duplicate_id_object_then_integer", body("INSERT", R"({"id":{"a":1},"id":3})"), kOk,
         "INSERT:3", ""},
        {"duplicate_type_last_wins",
         R"({"type":"INSERT","table":"articles","schema":"public","record":{"id":1},)"
         R"("old_record":{"id":2},"type":"DELETE"})",
         kOk, "DELETE:2", ""},
        {"duplicate_record_null_then_object",
         R"({"type":"INSERT","table":"articles","schema":"public","record":null,)"
         R"("record":{"id":6}})",
         kOk, "INSERT:6", ""},
        // What pg_net sends: jsonb's text, keys by length (schema after record), spaces.
        {"update_in_jsonb_order",
         R"({"type": "UPDATE", "table": "articles", "record": {"id": 3, "title": "new"}, )"
         R"("schema": "public", "old_record": {"id": 2, "title": "old"}})",
         kOk, "UPDATE:3,DELETE:2", ""},
        {"insert_large_body",
         body("INSERT", R"({"id":11,"body":")" + std::string(200000, 'x') + R"("})"), kOk,
         "INSERT:11", ""},
        // nlohmann's parser skips a UTF-8 byte order mark, and ends the input at a NUL byte: what
        // follows one is not parsed (its brackets still count toward the depth bound).
        {"byte_order_mark_skipped", "\xef\xbb\xbf" + body("INSERT", rec("12")), kOk, "INSERT:12",
         ""},
        {"input_ends_at_nul", body("INSERT", rec("13")) + std::string(1, '\0') + "garbage", kOk,
         "INSERT:13", ""},
        {"nesting_of_64_levels", nested_body(64), kOk, "INSERT:1", ""},
        {"nesting_of_64_levels_of_objects", nested_objects(64), kOk, "INSERT:1", ""},
        {"brackets_inside_strings_do_not_count",
         body("INSERT", R"({"id":1,"title":")" + std::string(100, '[') + R"("})"), kOk, "INSERT:1",
         ""},
        {"brackets_after_escaped_quote_do_not_count",
         body("INSERT", R"({"id":1,"title":"\")" + std::string(100, '[') + R"(\\"})"), kOk,
         "INSERT:1", ""},

        // Not JSON.
        {"empty_body", "", 400, "malformed_json", "parse error"},
        {"truncated_json", R"({"type":"INSERT")", 400, "malformed_json", "parse error"},
        {"trailing_comma", R"({"type":"INSERT",})", 400, "malformed_json", "parse error"},
        {"not_json", "type=INSERT&id=1", 400, "malformed_json", "parse error"},
        {"trailing_garbage", body("INSERT", rec("1")) + " x", 400, "malformed_json", "parse error"},
        {"single_quotes", "{'type':'INSERT'}", 400, "malformed_json", "parse error"},
        // JSON text must be UTF-8 (RFC 8259), so a raw invalid byte or a lone surrogate escape
        // makes the body malformed before the id is looked at (check_key_part's own UTF-8 rules
        // are covered in cache_key_test.cpp).
        {"id_with_invalid_utf8",
         body("INSERT", rec("\"a\xff"
                            "b\"")),
         400, "malformed_json", "parse error"},
        {"id_with_lone_surrogate", body("INSERT", rec(R"("\ud800")")), 400, "malformed_json",
         "parse error"},
        {"trailing_brace", body("INSERT", rec("1")) + "}", 400, "malformed_json", "parse error"},
        {"raw_tab_in_id", body("INSERT", rec("\"a\tb\"")), 400, "malformed_json",
         "control character U+0009"},
        {"raw_control_character_in_other_field",
         body("INSERT", R"({"id":1,"title":"a)" + std::string(1, '\x01') + R"(b"})"), 400,
         "malformed_json", "control character U+0001"},
        {"invalid_escape", body("INSERT", R"({"id":1,"title":"\x"})"), 400, "malformed_json",
         "parse error"},
        {"surrogate_pair_with_bad_low_half", body("INSERT", rec(R"("\ud800\u0041")")), 400,
         "malformed_json", "parse error"},
        {"lone_low_surrogate", body("INSERT", rec(R"("\udc00")")), 400, "malformed_json",
         "parse error"},
        {"number_beyond_double_in_other_field", body("INSERT", R"({"id":1,"n":1e400})"), 400,
         "malformed_json", "number overflow"},
        {"leading_zero", body("INSERT", R"({"id":1,"n":01})"), 400, "malformed_json",
         "parse error"},
        {"bad_literal", body("INSERT", R"({"id":1,"b":tru})"), 400, "malformed_json",
         "parse error"},
        {"nesting_of_65_levels", nested_body(65), 400, "malformed_json",
         "nested deeper than 64 levels"},
        {"nesting_of_65_levels_of_objects", nested_objects(65), 400, "malformed_json",
         "nested deeper than 64 levels"},
        // Depth is told before any other fault, wherever the fault is.
        {"malformed_then_too_deep", R"({"type":"INSERT",,)" + std::string(70, '['), 400,
         "malformed_json", "nested deeper than 64 levels"},
        {"too_deep_and_truncated", std::string(100000, '['), 400, "malformed_json",
         "nested deeper than 64 levels"},
        {"too_deep_after_nul",
         body("INSERT", rec("1")) + std::string(1, '\0') + std::string(65, '['), 400,
         "malformed_json", "nested deeper than 64 levels"},
        {"malformed_with_brackets_in_strings_only",
         R"({"title":")" + std::string(100, '[') + R"(",})", 400, "malformed_json", "parse error"},
        {"nesting_of_10000_levels", std::string(10000, '[') + std::string(10000, ']'), 400,
         "malformed_json", "nested deeper than 64 levels"},

        // JSON, but not an object.
        {"array_body", "[]", 400, "invalid_body", "must be a JSON object, got a array"},
        {"string_body", R"("INSERT")", 400, "invalid_body", "got a string"},
        {"number_body", "42", 400, "invalid_body", "got a number"},
        {"null_body", "null", 400, "invalid_body", "got a null"},

        // type / schema / table.
        {"missing_type", R"({"table":"articles","schema":"public","record":{"id":1}})", 400,
         "missing_field", "'type'"},
        {"type_number", R"({"type":1,"table":"articles","schema":"public","record":{"id":1}})", 400,
         "invalid_field", "'type' must be a string, got a number"},
        {"type_null", R"({"type":null,"table":"articles","schema":"public","record":{"id":1}})",
         400, "invalid_field", "'type'"},
        {"type_unknown", body("UPSERT", rec("1")), 400, "invalid_field",
         "must be INSERT, UPDATE, DELETE or TRUNCATE, got \"UPSERT\""},
        {"type_lowercase", body("insert", rec("1")), 400, "invalid_field", "'type'"},
        {"type_truncate_lowercase", body("truncate", "null"), 400, "invalid_field", "\"truncate\""},
        {"type_end_not_allowed", body("END", rec("1")), 400, "invalid_field", "\"END\""},
        {"type_heartbeat_not_allowed", body("HEARTBEAT", rec("1")), 400, "invalid_field",
         "\"HEARTBEAT\""},
        // The wire's name for a resync is not the webhook's: only TRUNCATE asks for one.
        {"type_resync_not_allowed", body("RESYNC", "null"), 400, "invalid_field", "\"RESYNC\""},
        {"missing_schema", R"({"type":"INSERT","table":"articles","record":{"id":1}})", 400,
         "missing_field", "'schema'"},
        {"schema_null", R"({"type":"INSERT","table":"articles","schema":null,"record":{"id":1}})",
         400, "invalid_field", "'schema' must be a string, got a null"},
        {"missing_table", R"({"type":"INSERT","schema":"public","record":{"id":1}})", 400,
         "missing_field", "'table'"},
        {"table_array",
         R"({"type":"INSERT","table":["articles"],"schema":"public",)"
         R"("record":{"id":1}})",
         400, "invalid_field", "'table' must be a string, got a array"},

        // record / old_record.
        {"record_string", body("INSERT", R"("id=1")"), 400, "invalid_field",
         "'record' must be an object or null, got a string"},
        {"record_array", body("INSERT", "[1]"), 400, "invalid_field", "'record'"},
        {"old_record_number", body("UPDATE", rec("1"), "5"), 400, "invalid_field",
         "'old_record' must be an object or null, got a number"},
        {"insert_record_null", body("INSERT", "null"), 400, "missing_field",
         "'record' must be an object for INSERT"},
        {"update_record_null", body("UPDATE", "null", rec("1")), 400, "missing_field",
         "'record' must be an object for UPDATE"},
        {"delete_old_record_null", body("DELETE", rec("1")), 400, "missing_field",
         "'old_record' must be an object for DELETE"},
        {"delete_without_old_record",
         R"({"type":"DELETE","table":"articles","schema":"public","record":null})", 400,
         "missing_field", "'old_record'"},

        // The id.
        {"missing_id", body("INSERT", R"({"title":"no id"})"), 400, "missing_field",
         "'record.id' is required for INSERT"},
        {"id_nested_deeper_is_not_the_id", body("INSERT", R"({"title":{"id":5}})"), 400,
         "missing_field", "'record.id' is required"},
        {"id_of_another_field_is_not_the_id",
         R"({"type":"INSERT","table":"articles","schema":"public","extra":{"id":3},)"
         R"("record":{"title":"x"}})",
         400, "missing_field", "'record.id' is required"},
        {"duplicate_record_without_id_last_wins",
         R"({"type":"INSERT","table":"articles","schema":"public","record":{"id":1},)"
         R"("record":{"title":"x"}})",
         400, "missing_field", "'record.id' is required"},
        {"null_id", body("UPDATE", rec("null")), 400, "missing_field", "'record.id'"},
        {"delete_missing_id", body("DELETE", "null", R"({"title":"x"})"), 400, "missing_field",
         "'old_record.id' is required for DELETE"},
        {"fractional_id", body("INSERT", rec("1.5")), 422, "invalid_id",
         "'record.id' must be an integer or a string, got a fractional number"},
        {"integral_float_id", body("INSERT", rec("1.0")), 422, "invalid_id",
         "got a fractional number"},
        {"exponent_id", body("INSERT", rec("1e3")), 422, "invalid_id", "'record.id'"},
        {"negative_zero_fraction_id", body("INSERT", rec("-0.0")), 422, "invalid_id",
         "got a fractional number"},
        {"underflowing_exponent_id", body("INSERT", rec("1e-400")), 422, "invalid_id",
         "got a fractional number"},
        {"id_below_int64", body("INSERT", rec("-9223372036854775809")), 422, "invalid_id",
         "got a fractional number"},
        {"id_of_31_digits", body("INSERT", rec("1" + std::string(30, '0'))), 422, "invalid_id",
         "got a fractional number"},
        {"duplicate_id_integer_then_array", body("INSERT", R"({"id":3,"id":[3]})"), 422,
         "invalid_id", "got a array"},
        {"id_too_big_for_64_bits", body("INSERT", rec("18446744073709551616")), 422, "invalid_id",
         "'record.id'"},
        {"bool_id", body("INSERT", rec("true")), 422, "invalid_id", "got a boolean"},
        {"object_id", body("INSERT", rec(R"({"a":1})")), 422, "invalid_id", "got a object"},
        {"array_id", body("INSERT", rec("[1]")), 422, "invalid_id", "got a array"},
        {"delete_bool_id", body("DELETE", "null", rec("false")), 422, "invalid_id",
         "'old_record.id'"},
        {"empty_id", body("INSERT", rec(R"("")")), 422, "invalid_id", "is empty"},
        {"id_with_space", body("INSERT", rec(R"("a b")")), 422, "invalid_id",
         "'record.id' cannot be a cache key: it contains whitespace or a control character"},
        {"id_with_tab", body("INSERT", rec(R"("a\tb")")), 422, "invalid_id", "control character"},
        {"id_with_newline", body("INSERT", rec(R"("a\nb")")), 422, "invalid_id",
         "control character"},
        {"id_with_nul", body("INSERT", rec(R"("a\u0000b")")), 422, "invalid_id",
         "control character"},
        {"id_with_del", body("INSERT", rec(R"("a\u007fb")")), 422, "invalid_id",
         "control character"},
        {"id_of_201_bytes", body("INSERT", rec("\"" + id201 + "\"")), 422, "invalid_id",
         "longer than 200 bytes"},
        {"delete_id_with_space", body("DELETE", "null", rec(R"("x y")")), 422, "invalid_id",
         "'old_record.id' cannot be a cache key"},

        // Not the configured table.
        {"unknown_table", body("INSERT", rec("1"), "null", "users"), 422, "unknown_table",
         "\"public.users\" is not configured"},
        {"unknown_schema", body("INSERT", rec("1"), "null", "articles", "private"), 422,
         "unknown_table", "\"private.articles\""},
        {"table_name_case_matters", body("INSERT", rec("1"), "null", "Articles"), 422,
         "unknown_table", "public.Articles"},
    };
}

class ParseWebhook : public ::testing::TestWithParam<Case> {};

TEST_P(ParseWebhook, Outcome) {
    const Case& c = GetParam();
    const Table table;
    expect_same_as_reference(c.body, std::span(&table, 1));
    auto r = parse(c.body, table);
    if (c.status == kOk) {
        ASSERT_TRUE(r.ok()) << r.error().status << " " << r.error().code << ": "
                            << r.error().detail;
        EXPECT_EQ(render(*r), c.code);
        return;
    }
    ASSERT_FALSE(r.ok()) << "accepted as " << render(*r);
    EXPECT_EQ(r.error().status, c.status) << r.error().detail;
    EXPECT_EQ(r.error().code, c.code) << r.error().detail;
    EXPECT_NE(r.error().detail.find(c.in_detail), std::string::npos)
        << "detail \"" << r.error().detail << "\" lacks \"" << c.in_detail << "\"";
}

INSTANTIATE_TEST_SUITE_P(Table, ParseWebhook, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                             return info.param.name;
                         });

TEST(ParseWebhookConfig, UsesTheConfiguredTableAndPrimaryKey) {
    Table cfg{"app", "posts", "slug"};
    auto ok =
        parse(R"({"type":"UPDATE","table":"posts","schema":"app","record":{"id":1,"slug":"new"},)"
              R"("old_record":{"id":1,"slug":"old"}})",
              cfg);
    ASSERT_TRUE(ok.ok()) << ok.error().detail;
    EXPECT_EQ(render(*ok), "UPDATE:new,DELETE:old");

    auto missing =
        parse(R"({"type":"INSERT","table":"posts","schema":"app","record":{"id":1}})", cfg);
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, "missing_field");
    EXPECT_NE(missing.error().detail.find("'record.slug'"), std::string::npos);

    auto default_table = parse(body("INSERT", rec("1")), cfg);
    ASSERT_FALSE(default_table.ok());
    EXPECT_EQ(default_table.error().code, "unknown_table");
    EXPECT_NE(default_table.error().detail.find("app.posts"), std::string::npos);
}

TEST(ParseWebhookConfig, RoutesEachWebhookToTheTableItNames) {
    const std::vector<Table> tables{{}, {"public", "authors", "uuid", "/authors"}};
    auto authors =
        parse_webhook(R"({"type":"DELETE","table":"authors","schema":"public","record":null,)"
                      R"("old_record":{"uuid":"0b5e1c9a-4d1f-4a8e-9c55-3f1d2a6b7c80"}})",
                      tables);
    ASSERT_TRUE(authors.ok()) << authors.error().detail;
    EXPECT_EQ(authors->table, 1u);
    EXPECT_EQ(render(authors->changes), "DELETE:0b5e1c9a-4d1f-4a8e-9c55-3f1d2a6b7c80");
    auto articles = parse_webhook(body("INSERT", rec("4")), tables);
    ASSERT_TRUE(articles.ok()) << articles.error().detail;
    EXPECT_EQ(articles->table, 0u);

    // Each table's own primary key: an authors row is named by its uuid, not by "id".
    auto keyed_by_id = parse_webhook(
        R"({"type":"INSERT","table":"authors","schema":"public","record":{"id":4}})", tables);
    ASSERT_FALSE(keyed_by_id.ok());
    EXPECT_NE(keyed_by_id.error().detail.find("'record.uuid'"), std::string::npos);

    auto other = parse_webhook(body("INSERT", rec("1"), "null", "notes"), tables);
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.error().status, 422);
    EXPECT_NE(other.error().detail.find(R"("public.articles", "public.authors")"),
              std::string::npos)
        << other.error().detail;
}

// Where simdjson does not accept a body, nlohmann's parser words the refusal: the detail names the
// position as nlohmann's does, wherever in the body the fault is.
TEST(ParseWebhookDetail, MalformedBodiesAreWordedByNlohmann) {
    const Table table;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {R"({"type":"INSERT")",
         "[json.exception.parse_error.101] parse error at line 1, column 17: syntax error while "
         "parsing object - unexpected end of input; expected '}'"},
        {body("INSERT", rec("1")) + "}",
         "[json.exception.parse_error.101] parse error at line 1, column 107: syntax error while "
         "parsing value - unexpected '}'; expected end of input"},
        {body("INSERT", R"({"id":1,"n":1e400})"),
         "[json.exception.out_of_range.406] number overflow parsing '1e400'"},
        {std::string(65, '['), "body is nested deeper than 64 levels"},
    };
    for (const auto& [text, detail] : cases) {
        auto r = parse_webhook(text, std::span(&table, 1));
        ASSERT_FALSE(r.ok()) << text;
        EXPECT_EQ(r.error().detail, detail) << text;
    }
}

// Several tables, some keyed alike: the fields of every table's key are kept until the body names
// its table, and each body is answered as the reference answers it.
TEST(ParseWebhookConfig, SeveralTablesKeyedAlikeAndNot) {
    const std::vector<Table> tables{{},
                                    {"public", "authors", "uuid", "/authors"},
                                    {"app", "posts", "id", "/posts"},
                                    {"public", "notes", "slug", "/notes"}};
    const std::vector<std::pair<std::string, std::string>> cases = {
        // schema after record, as jsonb orders the keys
        {R"({"type": "UPDATE", "table": "notes", "record": {"id": 1, "slug": "b", "uuid": "u"},)"
         R"( "schema": "public", "old_record": {"slug": "a"}})",
         "table 3 UPDATE:b DELETE:a"},
        {R"({"type":"DELETE","record":null,"old_record":{"uuid":"x","id":2},"table":"authors",)"
         R"("schema":"public"})",
         "table 1 DELETE:x"},
        {R"({"type":"INSERT","schema":"app","table":"posts","record":{"id":9}})",
         "table 2 INSERT:9"},
        {R"({"type":"INSERT","schema":"app","table":"posts","record":{"slug":9}})",
         "400 missing_field: field 'record.id' is required for INSERT"},
        {R"({"type":"INSERT","schema":"public","table":"notes","record":{"slug":[1]}})",
         "422 invalid_id: field 'record.slug' must be an integer or a string, got a array"},
    };
    for (const auto& [text, want] : cases) {
        EXPECT_EQ(answer(parse_webhook(text, tables)), want) << text;
        expect_same_as_reference(text, tables);
    }
}

TEST(ParseWebhookConfig, ATruncateIsOneResyncOfTheTableItNames) {
    const std::vector<Table> tables = {Table{}, Table{"public", "authors", "id", "/authors"}};
    auto r =
        parse_webhook(R"({"type":"TRUNCATE","table":"authors","schema":"public","record":null,)"
                      R"("old_record":null})",
                      tables);
    ASSERT_TRUE(r.ok()) << r.error().detail;
    EXPECT_EQ(r->table, 1u);
    ASSERT_EQ(r->changes.size(), 1u);
    EXPECT_EQ(r->changes[0].op, Op::Resync);
    EXPECT_EQ(r->changes[0].pk, "");
}

TEST(ParseWebhookConfig, OpsAreReportedExactly) {
    auto r = parse(body("UPDATE", rec("3"), rec("2")), Table{});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0].op, Op::Update);
    EXPECT_EQ((*r)[0].pk, "3");
    EXPECT_EQ((*r)[1].op, Op::Delete);
    EXPECT_EQ((*r)[1].pk, "2");
}

struct ContentTypeCase {
    const char* value;
    bool json;
};

class JsonContentType : public ::testing::TestWithParam<ContentTypeCase> {};

TEST_P(JsonContentType, Classifies) {
    EXPECT_EQ(is_json_content_type(GetParam().value), GetParam().json)
        << "\"" << GetParam().value << "\"";
}

INSTANTIATE_TEST_SUITE_P(
    Values, JsonContentType,
    ::testing::Values(ContentTypeCase{"application/json", true},
                      ContentTypeCase{"application/json; charset=utf-8", true},
                      ContentTypeCase{"application/json;charset=UTF-8", true},
                      ContentTypeCase{"application/json ; charset=utf-8", true},
                      ContentTypeCase{"APPLICATION/JSON", true},
                      ContentTypeCase{"Application/Json", true},
                      ContentTypeCase{"text/plain", false}, ContentTypeCase{"text/json", false},
                      ContentTypeCase{"application/jsonx", false},
                      ContentTypeCase{"application/json-patch+json", false},
                      ContentTypeCase{"application/x-www-form-urlencoded", false},
                      ContentTypeCase{"application/", false}, ContentTypeCase{"", false}),
    [](const ::testing::TestParamInfo<ContentTypeCase>& info) {
        return revalidator::testing::spelled_name(info.param.value);
    });

}  // namespace
}  // namespace revalidator::ingress
