// SQL text: identifier quoting, ORDER BY validation, text[] literals, key types, the queries.
#include "postgres/sql.hpp"

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "param_names.hpp"

namespace revalidator::sql {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

TEST(QuoteIdent, WrapsInDoubleQuotes) {
    EXPECT_EQ(quote_ident("id"), "\"id\"");
    EXPECT_EQ(quote_ident("Title"), "\"Title\"");
    EXPECT_EQ(quote_ident(""), "\"\"");
    EXPECT_EQ(quote_ident("with space"), "\"with space\"");
}

TEST(QuoteIdent, DoublesEmbeddedQuotes) {
    EXPECT_EQ(quote_ident("a\"b"), "\"a\"\"b\"");
    EXPECT_EQ(quote_ident("\""), "\"\"\"\"");
    EXPECT_EQ(quote_ident("x\"; DROP TABLE t; --"), "\"x\"\"; DROP TABLE t; --\"");
}

TEST(OrderBy, AcceptsColumnsWithDirections) {
    auto r = order_by("title DESC, id", "id");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(*r, "t.\"title\" DESC, t.\"id\"");
}

TEST(OrderBy, DirectionIsCaseInsensitiveAndNormalised) {
    auto r = order_by("published_at desc,  title   asc ,id", "id");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(*r, "t.\"published_at\" DESC, t.\"title\" ASC, t.\"id\"");
}

TEST(OrderBy, AppendsThePrimaryKeyWhenMissing) {
    auto r = order_by("title", "id");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(*r, "t.\"title\", t.\"id\"");

    auto desc = order_by("published_at DESC", "uuid");
    ASSERT_TRUE(desc.ok());
    EXPECT_EQ(*desc, "t.\"published_at\" DESC, t.\"uuid\"");
}

TEST(OrderBy, DoesNotRepeatThePrimaryKey) {
    auto r = order_by("id DESC", "id");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, "t.\"id\" DESC");

    auto mid = order_by("id, title", "id");
    ASSERT_TRUE(mid.ok());
    EXPECT_EQ(*mid, "t.\"id\", t.\"title\"");
}

TEST(OrderBy, PrimaryKeyAloneAndEmptySpec) {
    auto r = order_by("id", "id");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, "t.\"id\"");
    // The worker passes the primary key when --order-by is empty; an empty spec orders by it too.
    auto empty = order_by("", "id");
    ASSERT_TRUE(empty.ok());
    EXPECT_EQ(*empty, "t.\"id\"");
}

TEST(OrderBy, AcceptsUnderscoresAndDigits) {
    auto r = order_by("_rank2, created_at_1 DESC", "id");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(*r, "t.\"_rank2\", t.\"created_at_1\" DESC, t.\"id\"");
}

TEST(OrderBy, RejectsInjectionsAndNonColumns) {
    const char* bad[] = {
        "id; drop table x",
        "id desc nulls first",
        "id DESC NULLS LAST",
        "1abc",
        "id desc, 1",
        "title COLLATE \"C\"",
        "lower(title)",
        "t.title",
        "\"title\"",
        "title--",
        "title DESC DESC",
        "title ASCENDING",
        "title\tDESC",
        "id)",
        "caf\xc3\xa9",
        "id,,title",
        ",id",
        " , id",
    };
    for (const char* spec : bad) {
        auto r = order_by(spec, "id");
        EXPECT_FALSE(r.ok()) << "\"" << spec << "\" accepted as " << *r;
        if (!r.ok()) {
            EXPECT_FALSE(r.error().empty());
        }
    }
}

TEST(OrderBy, RejectsOverlongColumnName) {
    EXPECT_TRUE(order_by(std::string(63, 'c'), "id").ok());
    EXPECT_FALSE(order_by(std::string(64, 'c'), "id").ok());
}

TEST(OrderBy, ErrorNamesTheTerm) {
    auto r = order_by("title, id; drop table x", "id");
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(contains(r.error(), "id; drop table x")) << r.error();

    auto dir = order_by("title sideways", "id");
    ASSERT_FALSE(dir.ok());
    EXPECT_TRUE(contains(dir.error(), "ASC or DESC")) << dir.error();
}

TEST(OrderBy, RejectsATrailingEmptyTerm) {
    EXPECT_FALSE(order_by("title,", "id").ok());
    EXPECT_FALSE(order_by("title, ", "id").ok());
}

TEST(TextArray, QuotesEveryElement) {
    EXPECT_EQ(text_array({}), "{}");
    EXPECT_EQ(text_array({"1"}), "{\"1\"}");
    EXPECT_EQ(text_array({"1", "2", "abc"}), "{\"1\",\"2\",\"abc\"}");
}

TEST(TextArray, EscapesQuotesAndBackslashes) {
    EXPECT_EQ(text_array({"a\"b"}), R"({"a\"b"})");
    EXPECT_EQ(text_array({"a\\b"}), R"({"a\\b"})");
    EXPECT_EQ(text_array({"\\\""}), R"({"\\\""})");
}

TEST(TextArray, ArraySyntaxInsideElementsIsInert) {
    // Commas, braces, NULL and empty strings are data once quoted.
    EXPECT_EQ(text_array({"a,b", "{c}", "NULL", ""}), R"({"a,b","{c}","NULL",""})");
}

TEST(KeyKind, FromFormatType) {
    EXPECT_EQ(key_kind("smallint"), KeyKind::Int16);
    EXPECT_EQ(key_kind("integer"), KeyKind::Int32);
    EXPECT_EQ(key_kind("bigint"), KeyKind::Int64);
    EXPECT_EQ(key_kind("uuid"), KeyKind::Uuid);
    EXPECT_EQ(key_kind("text"), KeyKind::Other);
    EXPECT_EQ(key_kind("character varying(20)"), KeyKind::Other);
    EXPECT_EQ(key_kind("numeric"), KeyKind::Other);
    EXPECT_EQ(key_kind("INTEGER"), KeyKind::Other);  // format_type() answers in lower case
}

struct CanonicalCase {
    KeyKind kind;
    const char* pk;
    std::optional<std::string> spelled;  // nullopt: no value of the type has this spelling
};

class Canonical : public ::testing::TestWithParam<CanonicalCase> {};

TEST_P(Canonical, SpelledAsPostgresSpellsTheValue) {
    const auto& c = GetParam();
    EXPECT_EQ(canonical(c.kind, c.pk), c.spelled)
        << "kind " << static_cast<int>(c.kind) << " pk \"" << c.pk << "\"";
}

const std::optional<std::string> kNone;

// "Int32_minus_007": the key type and the spelling, as gtest and ctest name the case.
std::string case_name(const ::testing::TestParamInfo<CanonicalCase>& info) {
    static constexpr const char* kKinds[] = {"Int16", "Int32", "Int64", "Uuid", "Other"};
    return std::string(kKinds[static_cast<int>(info.param.kind)]) + "_" +
           revalidator::testing::spelled_name(info.param.pk);
}

// Postgres' uuid_in accepts these spellings (and no others): any case, braces, and a hyphen after
// any group of four digits.
INSTANTIATE_TEST_SUITE_P(
    Uuids, Canonical,
    ::testing::Values(
        CanonicalCase{KeyKind::Uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                      "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
        CanonicalCase{KeyKind::Uuid, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
                      "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
        CanonicalCase{KeyKind::Uuid, "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
                      "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
        CanonicalCase{KeyKind::Uuid, "a0eebc999c0b4ef8bb6d6bb9bd380a11",
                      "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
        CanonicalCase{KeyKind::Uuid, "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
                      "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
        CanonicalCase{KeyKind::Uuid, "{a0eebc999c0b4ef8bb6d6bb9bd380a11}",
                      "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
        CanonicalCase{KeyKind::Uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", kNone},    // 31
        CanonicalCase{KeyKind::Uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111", kNone},  // 33
        CanonicalCase{KeyKind::Uuid, "a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11", kNone},   // '-' at 7
        CanonicalCase{KeyKind::Uuid, "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11", kNone},  // two
        CanonicalCase{KeyKind::Uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-", kNone},  // last
        CanonicalCase{KeyKind::Uuid, "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", kNone},
        CanonicalCase{KeyKind::Uuid, "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", kNone},
        CanonicalCase{KeyKind::Uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", kNone},
        CanonicalCase{KeyKind::Uuid, " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", kNone},
        CanonicalCase{KeyKind::Uuid, "", kNone}),
    case_name);

INSTANTIATE_TEST_SUITE_P(
    Boundaries, Canonical,
    ::testing::Values(
        // smallint
        CanonicalCase{KeyKind::Int16, "0", "0"}, CanonicalCase{KeyKind::Int16, "32767", "32767"},
        CanonicalCase{KeyKind::Int16, "32768", kNone},
        CanonicalCase{KeyKind::Int16, "-32768", "-32768"},
        CanonicalCase{KeyKind::Int16, "-32769", kNone}, CanonicalCase{KeyKind::Int16, "-0", "0"},
        CanonicalCase{KeyKind::Int16, "+1", "1"}, CanonicalCase{KeyKind::Int16, "1.0", kNone},
        CanonicalCase{KeyKind::Int16, "", kNone}, CanonicalCase{KeyKind::Int16, "abc", kNone},
        CanonicalCase{KeyKind::Int16, "99999999999999999999", kNone},
        // integer
        CanonicalCase{KeyKind::Int32, "2147483647", "2147483647"},
        CanonicalCase{KeyKind::Int32, "2147483648", kNone},
        CanonicalCase{KeyKind::Int32, "-2147483648", "-2147483648"},
        CanonicalCase{KeyKind::Int32, "-2147483649", kNone},
        CanonicalCase{KeyKind::Int32, "-0", "0"}, CanonicalCase{KeyKind::Int32, "+1", "1"},
        CanonicalCase{KeyKind::Int32, "1.0", kNone}, CanonicalCase{KeyKind::Int32, "", kNone},
        CanonicalCase{KeyKind::Int32, "abc", kNone}, CanonicalCase{KeyKind::Int32, "12abc", kNone},
        CanonicalCase{KeyKind::Int32, "-", kNone}, CanonicalCase{KeyKind::Int32, "0x10", kNone},
        CanonicalCase{KeyKind::Int32, "1e3", kNone}, CanonicalCase{KeyKind::Int32, "1_000", kNone},
        // one integer spelled several ways: each names the same row, or none
        CanonicalCase{KeyKind::Int32, "007", "7"}, CanonicalCase{KeyKind::Int32, "+7", "7"},
        CanonicalCase{KeyKind::Int32, "7.0", kNone}, CanonicalCase{KeyKind::Int32, " 7", kNone},
        CanonicalCase{KeyKind::Int32, "7 ", kNone}, CanonicalCase{KeyKind::Int32, "7", "7"},
        CanonicalCase{KeyKind::Int32, "-007", "-7"}, CanonicalCase{KeyKind::Int32, "+", kNone},
        CanonicalCase{KeyKind::Int32, "+-7", kNone}, CanonicalCase{KeyKind::Int32, "++7", kNone},
        CanonicalCase{KeyKind::Int32, "-+7", kNone},
        // bigint
        CanonicalCase{KeyKind::Int64, "9223372036854775807", "9223372036854775807"},
        CanonicalCase{KeyKind::Int64, "9223372036854775808", kNone},
        CanonicalCase{KeyKind::Int64, "-9223372036854775808", "-9223372036854775808"},
        CanonicalCase{KeyKind::Int64, "-9223372036854775809", kNone},
        CanonicalCase{KeyKind::Int64, "18446744073709551615", kNone},
        CanonicalCase{KeyKind::Int64, "-0", "0"}, CanonicalCase{KeyKind::Int64, "+1", "1"},
        CanonicalCase{KeyKind::Int64, "0000000000000000000000000042", "42"},
        CanonicalCase{KeyKind::Int64, "1.0", kNone}, CanonicalCase{KeyKind::Int64, "", kNone},
        CanonicalCase{KeyKind::Int64, "abc", kNone},
        // other types take any id as given
        CanonicalCase{KeyKind::Other, "abc", "abc"}, CanonicalCase{KeyKind::Other, "", ""},
        CanonicalCase{KeyKind::Other, "007", "007"}, CanonicalCase{KeyKind::Other, "1.0", "1.0"}),
    case_name);

TEST(Build, QueriesUseQuotedNames) {
    Queries q = build("public", "articles", "id", "integer", "t.\"title\" DESC, t.\"id\"");
    const std::string rel = "FROM \"public\".\"articles\" t";
    for (const std::string* s : {&q.rows, &q.rows_text, &q.all}) {
        EXPECT_TRUE(contains(*s, rel)) << *s;
    }
    EXPECT_TRUE(contains(q.rows, "SELECT t.\"id\"::text, to_jsonb(t)::text")) << q.rows;
    EXPECT_TRUE(contains(q.rows, "WHERE t.\"id\" = ANY($1::text[]::integer[])")) << q.rows;
    EXPECT_TRUE(contains(q.rows_text, "WHERE t.\"id\"::text = ANY($1::text[])")) << q.rows_text;
    EXPECT_TRUE(contains(q.all, "ORDER BY t.\"title\" DESC, t.\"id\"")) << q.all;
    EXPECT_TRUE(contains(q.all, "SELECT t.\"id\"::text, to_jsonb(t)::text")) << q.all;
}

TEST(Build, HostileNamesStayQuoted) {
    Queries q = build("my\"schema", "Ta ble", "Key\"; --", "uuid", "t.\"Key\"\"; --\"");
    EXPECT_TRUE(contains(q.rows, "FROM \"my\"\"schema\".\"Ta ble\" t")) << q.rows;
    EXPECT_TRUE(contains(q.rows, "t.\"Key\"\"; --\"")) << q.rows;
    EXPECT_TRUE(contains(q.rows, "::uuid[]")) << q.rows;
}

TEST(OneRow, TypesTheIdByTheKeyAndComparesItsSpelling) {
    EXPECT_EQ(one_row("public", "articles", "id"),
              "SELECT to_jsonb(t)::text FROM \"public\".\"articles\" t "
              "WHERE t.\"id\" = $1 AND t.\"id\"::text = $2");
    const auto hostile = one_row("my\"schema", "Ta ble", "Key\"; --");
    EXPECT_TRUE(contains(hostile, "FROM \"my\"\"schema\".\"Ta ble\" t")) << hostile;
    EXPECT_TRUE(contains(hostile, "WHERE t.\"Key\"\"; --\" = $1")) << hostile;
}

TEST(View, RendersTheFilterOrderLimitAndProjection) {
    auto all = view("public", "articles", "id", {.name = "all", .key = "/all"});
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(*all,
              "SELECT t.\"id\"::text, to_jsonb(t)::text FROM \"public\".\"articles\" t ORDER BY "
              "t.\"id\"");
    auto published = view("public", "articles", "id",
                          {.name = "published",
                           .key = "/published",
                           .filter = "published",
                           .order_by = "published_at DESC",
                           .limit = 50,
                           .columns = {"id", "it's"}});
    ASSERT_TRUE(published.ok());
    EXPECT_EQ(
        *published,
        "SELECT t.\"id\"::text, jsonb_build_object('id', t.\"id\", 'it''s', t.\"it's\")::text "
        "FROM \"public\".\"articles\" t WHERE (published) ORDER BY t.\"published_at\" DESC, "
        "t.\"id\" LIMIT 50");
    EXPECT_FALSE(
        view("public", "articles", "id", {.name = "v", .key = "/v", .order_by = "a;b"}).ok());
}

}  // namespace
}  // namespace revalidator::sql
