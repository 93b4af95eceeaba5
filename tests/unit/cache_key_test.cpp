// Cache keys: which ids can be part of a Memcached key, which prefixes are valid, how keys are
// formed.
#include "cache/cache_key.hpp"

#include <string>
#include <utility>

#include <gtest/gtest.h>

namespace revalidator {
namespace {

struct KeyPartCase {
    std::string name;
    std::string id;
    std::string problem;  // a substring of the reason, or "" when the id is accepted
};

class CheckKeyPart : public ::testing::TestWithParam<KeyPartCase> {};

TEST_P(CheckKeyPart, Verdict) {
    const auto& c = GetParam();
    auto bad = check_key_part(c.id);
    if (c.problem.empty()) {
        EXPECT_FALSE(bad.has_value()) << *bad;
    } else {
        ASSERT_TRUE(bad.has_value()) << "accepted";
        EXPECT_NE(bad->find(c.problem), std::string::npos) << *bad;
    }
}

const char* const kWhitespace = "whitespace or a control character";
const char* const kUtf8 = "not valid UTF-8";

// 200 bytes made of 2-, 3- and 4-byte characters.
std::string multibyte_200() {
    std::string s;
    while (s.size() + 4 <= 190) s += "\xf0\x9f\x98\x80";  // U+1F600
    while (s.size() + 3 <= 196) s += "\xe2\x82\xac";      // U+20AC
    while (s.size() + 2 <= 200) s += "\xc3\xa9";          // U+00E9
    return s;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CheckKeyPart,
    ::testing::Values(
        KeyPartCase{"digits", "12345", ""}, KeyPartCase{"one_byte", "x", ""},
        KeyPartCase{"uuid", "0b6f0a2e-8a4f-4c1e-9b7a-3f1d2c3b4a59", ""},
        KeyPartCase{"punctuation", "a/b:c?d=e&f#g%h", ""},
        KeyPartCase{"exactly_200_bytes", std::string(200, 'a'), ""},
        KeyPartCase{"201_bytes", std::string(201, 'a'), "longer than 200 bytes"},
        KeyPartCase{"multibyte_200_bytes", multibyte_200(), ""},
        KeyPartCase{"multibyte_201_bytes", multibyte_200() + "a", "longer than 200 bytes"},
        KeyPartCase{"empty", "", "is empty"},
        // Valid UTF-8 at each length and at the edges of the ranges.
        KeyPartCase{"two_byte_min_u0080", "\xc2\x80", ""},
        KeyPartCase{"two_byte_e_acute", "caf\xc3\xa9", ""},
        KeyPartCase{"two_byte_max_u07ff", "\xdf\xbf", ""},
        KeyPartCase{"three_byte_min_u0800", "\xe0\xa0\x80", ""},
        KeyPartCase{"three_byte_euro", "\xe2\x82\xac", ""},
        KeyPartCase{"three_byte_before_surrogates_ud7ff", "\xed\x9f\xbf", ""},
        KeyPartCase{"three_byte_after_surrogates_ue000", "\xee\x80\x80", ""},
        KeyPartCase{"three_byte_max_uffff", "\xef\xbf\xbf", ""},
        KeyPartCase{"four_byte_min_u10000", "\xf0\x90\x80\x80", ""},
        KeyPartCase{"four_byte_emoji", "\xf0\x9f\x98\x80", ""},
        KeyPartCase{"four_byte_max_u10ffff", "\xf4\x8f\xbf\xbf", ""},
        // Whitespace and control characters.
        KeyPartCase{"space", "a b", kWhitespace}, KeyPartCase{"leading_space", " a", kWhitespace},
        KeyPartCase{"tab", "a\tb", kWhitespace}, KeyPartCase{"newline", "a\nb", kWhitespace},
        KeyPartCase{"carriage_return", "a\r", kWhitespace},
        KeyPartCase{"nul", std::string("a\0b", 3), kWhitespace},
        KeyPartCase{"unit_separator_0x1f", "a\x1f", kWhitespace},
        KeyPartCase{"del_0x7f", "a\x7f", kWhitespace},
        // Ill-formed UTF-8.
        KeyPartCase{"lone_continuation", "a\x80", kUtf8}, KeyPartCase{"byte_ff", "\xff", kUtf8},
        KeyPartCase{"byte_fe", "\xfe", kUtf8}, KeyPartCase{"overlong_nul_c0_80", "\xc0\x80", kUtf8},
        KeyPartCase{"overlong_slash_c0_af", "\xc0\xaf", kUtf8},
        KeyPartCase{"overlong_c1_bf", "\xc1\xbf", kUtf8},
        KeyPartCase{"overlong_three_byte_e0_80_80", "\xe0\x80\x80", kUtf8},
        KeyPartCase{"overlong_three_byte_e0_9f_bf", "\xe0\x9f\xbf", kUtf8},
        KeyPartCase{"overlong_four_byte_f0_80_80_80", "\xf0\x80\x80\x80", kUtf8},
        KeyPartCase{"overlong_four_byte_f0_8f_bf_bf", "\xf0\x8f\xbf\xbf", kUtf8},
        KeyPartCase{"surrogate_high_ud800", "\xed\xa0\x80", kUtf8},
        KeyPartCase{"surrogate_low_udfff", "\xed\xbf\xbf", kUtf8},
        KeyPartCase{"past_u10ffff_f4_90", "\xf4\x90\x80\x80", kUtf8},
        KeyPartCase{"lead_f5", "\xf5\x80\x80\x80", kUtf8},
        KeyPartCase{"truncated_two_byte_at_end", "a\xc3", kUtf8},
        KeyPartCase{"truncated_three_byte_at_end", "a\xe2\x82", kUtf8},
        KeyPartCase{"truncated_four_byte_at_end", "a\xf0\x9f\x98", kUtf8},
        KeyPartCase{"truncated_two_byte_mid",
                    "\xc3"
                    "a",
                    kUtf8},
        KeyPartCase{"truncated_three_byte_mid",
                    "\xe2\x82"
                    "a",
                    kUtf8},
        KeyPartCase{"truncated_four_byte_mid",
                    "\xf0\x9f\x98"
                    "a",
                    kUtf8},
        KeyPartCase{"continuation_replaced_by_space", "\xc3 ", kUtf8}),
    [](const ::testing::TestParamInfo<KeyPartCase>& info) { return info.param.name; });

TEST(CheckKeyPart, MultibyteFixtureIsExactly200Bytes) {
    EXPECT_EQ(multibyte_200().size(), 200u);
}

TEST(CheckKeyPart, LengthIsCheckedInBytesNotCharacters) {
    // 67 three-byte characters: 201 bytes, 67 characters.
    std::string s;
    for (int i = 0; i < 67; ++i) s += "\xe2\x82\xac";
    ASSERT_EQ(s.size(), 201u);
    EXPECT_TRUE(check_key_part(s).has_value());
    s.resize(198);
    EXPECT_FALSE(check_key_part(s).has_value());
}

TEST(CheckPrefix, Accepts) {
    EXPECT_FALSE(check_prefix("/articles").has_value());
    EXPECT_FALSE(check_prefix("/").has_value());
    EXPECT_FALSE(check_prefix("/v2/articles").has_value());
    EXPECT_FALSE(check_prefix("/" + std::string(39, 'a')).has_value());  // 40 bytes
}

TEST(CheckPrefix, Rejects) {
    auto expect_problem = [](const std::string& prefix, const std::string& problem) {
        auto bad = check_prefix(prefix);
        ASSERT_TRUE(bad.has_value()) << "\"" << prefix << "\" accepted";
        EXPECT_NE(bad->find(problem), std::string::npos) << *bad;
    };
    expect_problem("", "must start with '/'");
    expect_problem("articles", "must start with '/'");
    expect_problem(" /articles", "must start with '/'");
    expect_problem("/" + std::string(40, 'a'), "at most 40 bytes");
    expect_problem("/my articles", "whitespace");
    expect_problem("/articles\n", "whitespace");
    expect_problem("/caf\xc3", "UTF-8");
}

TEST(ItemKey, JoinsPrefixAndIdWithASlash) {
    EXPECT_EQ(item_key("/articles", "17").value(), "/articles/17");
    EXPECT_EQ(item_key("/", "x").value(), "//x");
    EXPECT_EQ(item_key("/a", "caf\xc3\xa9").value(), "/a/caf\xc3\xa9");
}

TEST(ItemKey, LongestValidPartsFitInAMemcachedKey) {
    std::string prefix = "/" + std::string(39, 'p');
    std::string id(200, 'i');
    ASSERT_FALSE(check_prefix(prefix).has_value());
    ASSERT_FALSE(check_key_part(id).has_value());
    ASSERT_TRUE(item_key(prefix, id).ok());
    EXPECT_LE(item_key(prefix, id)->size(), kMaxKeyBytes);
    EXPECT_FALSE(check_key(*item_key(prefix, id)).has_value());
}

TEST(ItemKey, RefusesIdsThatCannotBePartOfAKeyAndSaysWhy) {
    // What a text primary key read from Postgres may hold.
    const std::pair<std::string, std::string> cases[] = {
        {"a\r\nset x 0 0 1\r\nX", "whitespace or a control character"},
        {"a b", "whitespace"},
        {std::string(300, 'x'), "longer than 200 bytes"},
        {"", "empty"},
        {"ctl\x01char", "control character"},
        {"bad\xff", "UTF-8"}};
    for (const auto& [id, problem] : cases) {
        auto key = item_key("/articles", id);
        ASSERT_FALSE(key.ok()) << "accepted: " << id;
        EXPECT_NE(key.error().find(problem), std::string::npos) << key.error();
        EXPECT_EQ(key.error().rfind("id ", 0), 0u) << key.error();
    }
}

TEST(CheckKey, AcceptsWholeKeysUpToMemcachedsLimit) {
    EXPECT_FALSE(check_key("/articles:part:1718000000123457:0").has_value());
    EXPECT_FALSE(check_key("/a/caf\xc3\xa9").has_value());
    EXPECT_FALSE(check_key(std::string(kMaxKeyBytes, 'k')).has_value());
}

TEST(CheckKey, RefusesWhatMemcachedWouldMisread) {
    auto expect_problem = [](const std::string& key, const std::string& problem) {
        auto bad = check_key(key);
        ASSERT_TRUE(bad.has_value()) << "accepted: " << key;
        EXPECT_NE(bad->find(problem), std::string::npos) << *bad;
    };
    expect_problem("", "empty");
    expect_problem(std::string(kMaxKeyBytes + 1, 'k'), "longer than 250 bytes");
    expect_problem("/articles:part:1:0\r\nflush_all", "whitespace");
    expect_problem("/articles:part:1:0 x", "whitespace");
    expect_problem("/articles\x7f", "control character");
    expect_problem("/caf\xc3", "UTF-8");
}

}  // namespace
}  // namespace revalidator
