// Wire format v1: round trips for every operation, and decode's rejections. decode() must never
// throw, whatever bytes arrive. encode and decode must answer exactly as encode_reference and
// decode_reference (nlohmann's DOM) do, for odd events and for frames simdjson and nlohmann read
// differently.
#include "wire/wire.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace revalidator;

namespace {

using nlohmann::json;

Event sample(Op op = Op::Update, std::string pk = "17") {
    return Event{"ingress-a", 1700000000000000, 42,         1700000000123456,
                 op,          "public",         "articles", std::move(pk)};
}

// A valid v1 frame as a JSON object, to be altered by a test.
json valid_frame() {
    return json::parse(wire::encode(sample()));
}

void expect_rejected(const std::string& frame, const std::string& reason,
                     const std::string& in_detail) {
    Result<Event, wire::WireError> r = Event{};
    ASSERT_NO_THROW(r = wire::decode(frame)) << frame;
    ASSERT_FALSE(r.ok()) << "accepted: " << frame;
    EXPECT_EQ(r.error().reason, reason) << frame << " -> " << r.error().detail;
    EXPECT_NE(r.error().detail.find(in_detail), std::string::npos)
        << frame << " -> detail \"" << r.error().detail << "\" lacks \"" << in_detail << "\"";
}

}  // namespace

TEST(Wire, RoundTrip) {
    Event e{"ingress-a", 1700000000000000, 42,         1700000000123456,
            Op::Delete,  "public",         "articles", "17"};
    auto back = wire::decode(wire::encode(e));
    ASSERT_TRUE(back.ok()) << back.error().detail;
    EXPECT_EQ(*back, e);
}

TEST(Wire, RoundTripEveryOp) {
    for (Op op : {Op::Insert, Op::Update, Op::Delete}) {
        Event e = sample(op);
        auto back = wire::decode(wire::encode(e));
        ASSERT_TRUE(back.ok()) << to_string(op) << ": " << back.error().detail;
        EXPECT_EQ(*back, e) << to_string(op);
    }
}

TEST(Wire, RoundTripEndWithEmptyPk) {
    Event e = sample(Op::End, "");
    auto back = wire::decode(wire::encode(e));
    ASSERT_TRUE(back.ok()) << back.error().detail;
    EXPECT_EQ(*back, e);
    EXPECT_EQ(back->op, Op::End);
    EXPECT_EQ(back->pk, "");
}

TEST(Wire, RoundTripResyncWithEmptyPk) {
    Event e = sample(Op::Resync, "");
    const std::string frame = wire::encode(e);
    EXPECT_NE(frame.find(R"("op":"RESYNC")"), std::string::npos) << frame;
    EXPECT_EQ(frame, wire::encode_reference(e));
    auto back = wire::decode(frame);
    ASSERT_TRUE(back.ok()) << back.error().detail;
    EXPECT_EQ(*back, e);
    auto reference = wire::decode_reference(frame);
    ASSERT_TRUE(reference.ok()) << reference.error().detail;
    EXPECT_EQ(*reference, e);
}

TEST(Wire, RoundTripExtremes) {
    Event e{"i",        UINT64_MAX,          UINT64_MAX, 0,
            Op::Insert, "s\"c\\h\xc3\xa9ma", "t",        "caf\xc3\xa9-\xf0\x9f\x98\x80"};
    auto back = wire::decode(wire::encode(e));
    ASSERT_TRUE(back.ok()) << back.error().detail;
    EXPECT_EQ(*back, e);

    Event longest = sample(Op::Update, std::string(200, '9'));
    auto back2 = wire::decode(wire::encode(longest));
    ASSERT_TRUE(back2.ok()) << back2.error().detail;
    EXPECT_EQ(*back2, longest);
}

TEST(Wire, EncodeIsAVersionedJsonObject) {
    json j = json::parse(wire::encode(sample(Op::Insert)));
    EXPECT_EQ(j.at("v"), 1);
    EXPECT_EQ(j.at("stream"), "ingress-a");
    EXPECT_EQ(j.at("epoch"), 1700000000000000u);
    EXPECT_EQ(j.at("seq"), 42u);
    EXPECT_EQ(j.at("ts"), 1700000000123456u);
    EXPECT_EQ(j.at("op"), "INSERT");
    EXPECT_EQ(j.at("schema"), "public");
    EXPECT_EQ(j.at("table"), "articles");
    EXPECT_EQ(j.at("pk"), "17");
}

TEST(Wire, ExtraFieldsAreIgnored) {
    json j = valid_frame();
    j["future"] = {{"x", 1}};
    auto r = wire::decode(j.dump());
    ASSERT_TRUE(r.ok()) << r.error().detail;
    EXPECT_EQ(*r, sample());
}

TEST(Wire, RejectsUnknownVersion) {
    auto r = wire::decode(
        R"({"v":2,"stream":"a","epoch":1,"seq":1,"ts":1,"op":"UPDATE","schema":"public","table":"articles","pk":"1"})");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().reason, "unknown_version");
}

TEST(Wire, RejectsOtherVersionNumbers) {
    for (json v : {json(0), json(-1), json(2), json(100), json(UINT64_MAX)}) {
        json j = valid_frame();
        j["v"] = v;
        expect_rejected(j.dump(), "unknown_version", "not supported");
    }
}

TEST(Wire, RejectsNonJsonAndNonObjects) {
    for (const char* frame : {"", "not json", "{", "{\"v\":1", "[]", "[1,2]", "1", "\"v\"", "null",
                              "true", "{\"v\":1}garbage"}) {
        expect_rejected(frame, "malformed", "not a JSON object");
    }
}

TEST(Wire, RejectsMissingFields) {
    for (const char* field : {"v", "stream", "epoch", "seq", "ts", "op", "schema", "table", "pk"}) {
        json j = valid_frame();
        j.erase(field);
        expect_rejected(j.dump(), "invalid_field", std::string("'") + field + "'");
    }
}

TEST(Wire, RejectsWrongTypedFields) {
    struct Bad {
        const char* field;
        json value;
    };
    const Bad cases[] = {
        {"v", "1"},
        {"v", 1.0},
        {"v", nullptr},
        {"v", true},
        {"stream", 1},
        {"stream", nullptr},
        {"stream", ""},
        {"epoch", "1"},
        {"epoch", 1.5},
        {"epoch", -1},
        {"seq", "1"},
        {"seq", 0},
        {"seq", -3},
        {"seq", 2.0},
        {"ts", "now"},
        {"ts", -1},
        {"ts", 1.25},
        {"op", 1},
        {"op", nullptr},
        {"schema", 1},
        {"schema", json::array()},
        {"table", false},
        {"table", nullptr},
        {"pk", 17},
        {"pk", nullptr},
        {"pk", json::object()},
    };
    for (const auto& c : cases) {
        json j = valid_frame();
        j[c.field] = c.value;
        SCOPED_TRACE(std::string(c.field) + " = " + c.value.dump());
        expect_rejected(j.dump(), "invalid_field", std::string("'") + c.field + "'");
    }
}

TEST(Wire, RejectsUnknownOps) {
    for (const char* op : {"", "insert", "Update", "TRUNCATE", "UPSERT", "END "}) {
        json j = valid_frame();
        j["op"] = op;
        expect_rejected(j.dump(), "invalid_field",
                        "INSERT, UPDATE, DELETE, RESYNC, END or HEARTBEAT");
    }
}

TEST(Wire, RejectsPksThatCannotBeKeys) {
    for (const std::string& pk :
         {std::string(""), std::string("a b"), std::string("a\nb"), std::string("a\x7f"),
          std::string("a\0b", 3), std::string(201, 'x')}) {
        json j = valid_frame();
        j["pk"] = pk;
        SCOPED_TRACE("pk " + json(pk).dump());
        expect_rejected(j.dump(), "invalid_field", "'pk'");
    }
}

TEST(Wire, RejectsPksWithInvalidUtf8) {
    // Invalid UTF-8 cannot be dumped from a json value; splice the raw bytes into the frame. Such
    // a frame is not JSON (RFC 8259 requires UTF-8), so it is malformed.
    for (const std::string& pk :
         {std::string("\xed\xa0\x80"), std::string("a\xff"), std::string("\xc0\x80")}) {
        json j = valid_frame();
        j["pk"] = "PLACEHOLDER";
        std::string frame = j.dump();
        frame.replace(frame.find("PLACEHOLDER"), 11, pk);
        expect_rejected(frame, "malformed", "not a JSON object");
    }
}

TEST(Wire, EndMayCarryAnyPk) {
    // The END marker names no row; its pk is not checked as a key.
    json j = valid_frame();
    j["op"] = "END";
    j["pk"] = "";
    EXPECT_TRUE(wire::decode(j.dump()).ok());
}

TEST(Wire, NonEndWithEmptyPkIsRejected) {
    json j = valid_frame();
    j["pk"] = "";
    expect_rejected(j.dump(), "invalid_field", "'pk' is empty");
}

TEST(Wire, DecodeNeverThrowsOnArbitraryBytes) {
    std::mt19937_64 rng(20240601);
    const std::string valid = wire::encode(sample());
    int accepted = 0;
    for (int i = 0; i < 600; ++i) {
        std::string frame;
        switch (i % 3) {
            case 0: {  // random bytes
                std::size_t n = rng() % 200;
                for (std::size_t k = 0; k < n; ++k) frame += static_cast<char>(rng() & 0xff);
                break;
            }
            case 1: {  // a valid frame with a few bytes flipped
                frame = valid;
                for (int k = 0; k < 3; ++k) frame[rng() % frame.size()] = static_cast<char>(rng());
                break;
            }
            case 2: {  // JSON-ish punctuation soup
                const char alphabet[] = "{}[]\":,0123456789-.eE truefalsnl\\u";
                std::size_t n = rng() % 120;
                for (std::size_t k = 0; k < n; ++k)
                    frame += alphabet[rng() % (sizeof alphabet - 1)];
                break;
            }
        }
        Result<Event, wire::WireError> r = Event{};
        ASSERT_NO_THROW(r = wire::decode(frame)) << "frame #" << i;
        if (r.ok()) {
            ++accepted;
        } else {
            EXPECT_FALSE(r.error().reason.empty());
            EXPECT_FALSE(r.error().detail.empty());
        }
    }
    // A flipped byte sometimes lands in a value and leaves a valid frame, never in most cases.
    EXPECT_LT(accepted, 200);
}

TEST(Wire, DecodeSurvivesDeepNesting) {
    std::string deep = std::string(100000, '[') + std::string(100000, ']');
    Result<Event, wire::WireError> r = Event{};
    ASSERT_NO_THROW(r = wire::decode(deep));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().reason, "malformed");

    std::string unclosed = std::string(100000, '{');
    ASSERT_NO_THROW(r = wire::decode(unclosed));
    EXPECT_FALSE(r.ok());
}

namespace {

// Why decode's answer to `frame` differs from decode_reference's, or success when it is the same:
// the same event, or the same reason and detail.
::testing::AssertionResult same_answer(std::string_view frame) {
    auto fast = wire::decode(frame);
    auto reference = wire::decode_reference(frame);
    // The frame as a JSON string (escaped, invalid UTF-8 replaced), its first 300 bytes.
    const auto shown = [&] {
        return json(std::string(frame.substr(0, 300)))
            .dump(-1, ' ', true, json::error_handler_t::replace);
    };
    if (fast.ok() != reference.ok()) {
        const wire::WireError& refusal = fast.ok() ? reference.error() : fast.error();
        return ::testing::AssertionFailure()
               << (fast.ok() ? "decode accepts what the reference refuses"
                             : "decode refuses what the reference accepts")
               << " (" << refusal.detail << "): " << shown();
    }
    if (fast.ok() && !(*fast == *reference)) {
        return ::testing::AssertionFailure()
               << "decode and the reference read different events: " << shown() << "\n  "
               << wire::encode(*fast) << "\n  " << wire::encode(*reference);
    }
    if (!fast.ok() && (fast.error().reason != reference.error().reason ||
                       fast.error().detail != reference.error().detail)) {
        return ::testing::AssertionFailure()
               << "decode refuses with " << fast.error().reason << " '" << fast.error().detail
               << "', the reference with " << reference.error().reason << " '"
               << reference.error().detail << "': " << shown();
    }
    return ::testing::AssertionSuccess();
}

// A frame as members in order, each a name and its value's raw JSON text: what the tests below
// reorder, repeat, drop and replace.
using Members = std::vector<std::pair<std::string, std::string>>;

std::string json_text(std::string_view s) {
    return json(std::string(s)).dump();
}

Members members_of(const Event& e) {
    return {{"epoch", std::to_string(e.epoch)},
            {"op", json_text(to_string(e.op))},
            {"pk", json_text(e.pk)},
            {"schema", json_text(e.schema)},
            {"seq", std::to_string(e.seq)},
            {"stream", json_text(e.stream)},
            {"table", json_text(e.table)},
            {"ts", std::to_string(e.received_us)},
            {"v", "1"}};
}

std::string frame_of(const Members& members) {
    std::string frame = "{";
    for (const auto& [name, value] : members) {
        if (frame.size() > 1) frame += ',';
        frame += json_text(name) + ":" + value;
    }
    return frame + "}";
}

// The sample's members with `name`'s value replaced by `value` (raw JSON text).
std::string frame_with(const std::string& name, const std::string& value) {
    Members members = members_of(sample());
    for (auto& member : members) {
        if (member.first == name) member.second = value;
    }
    return frame_of(members);
}

const char* const kMemberNames[] = {"v",  "stream", "epoch", "seq", "ts",
                                    "op", "schema", "table", "pk"};

// Values of every kind, spelled in ways simdjson and nlohmann might read differently: numbers
// beyond 64 bits, negative, fractional, with exponents, not numbers at all; strings with escapes,
// surrogates, NUL bytes, invalid UTF-8; literals and containers.
const std::vector<std::string>& odd_values() {
    static const std::vector<std::string> values = {"0",
                                                    "1",
                                                    "2",
                                                    "-0",
                                                    "-1",
                                                    "+1",
                                                    "01",
                                                    "1.",
                                                    ".5",
                                                    "1.0",
                                                    "1e0",
                                                    "1E0",
                                                    "1e2",
                                                    "1e-2",
                                                    "0.5",
                                                    "-0.0",
                                                    "1e400",
                                                    "-1e400",
                                                    "1e-400",
                                                    "9223372036854775807",
                                                    "9223372036854775808",
                                                    "-9223372036854775808",
                                                    "-9223372036854775809",
                                                    "18446744073709551615",
                                                    "18446744073709551616",
                                                    "99999999999999999999999",
                                                    "1700000000000000",
                                                    "1x",
                                                    "0x1",
                                                    "Infinity",
                                                    "NaN",
                                                    "null",
                                                    "nul",
                                                    "true",
                                                    "tru",
                                                    "false",
                                                    "falsex",
                                                    "[]",
                                                    "{}",
                                                    "[1]",
                                                    "[1,]",
                                                    "{\"a\":1}",
                                                    "{\"a\"}",
                                                    "{\"v\":1}",
                                                    "[[[[[[[[]]]]]]]]",
                                                    "\"\"",
                                                    "\"a\"",
                                                    "\"17\"",
                                                    "\"1\"",
                                                    "\"\\u0000\"",
                                                    "\"a\\u0000b\"",
                                                    std::string("\"a\0b\"", 5),
                                                    "\"\\ud800\"",
                                                    "\"\\udc00\"",
                                                    "\"\\ud800\\udc00\"",
                                                    "\"\\ud83d\\ude00\"",
                                                    "\"\\ud800\\u0041\"",
                                                    "\"\\uDBFF\\uDFFF\"",
                                                    "\"\\uFFFF\"",
                                                    "\"caf\xc3\xa9\"",
                                                    "\"\xff\"",
                                                    "\"\xc0\x80\"",
                                                    "\"\xed\xa0\x80\"",
                                                    "\"\xf4\x90\x80\x80\"",
                                                    "\"\xe2\x80\"",
                                                    "\"\\\"\"",
                                                    "\"\\\\\"",
                                                    "\"\\/\"",
                                                    "\"\\x\"",
                                                    "\"\\u12\"",
                                                    "\"\\U0041\"",
                                                    "\"a b\"",
                                                    "\"a\x01\"",
                                                    "\"a\x1f\"",
                                                    "\"a\x7f\"",
                                                    "\"\\t\"",
                                                    "\"INSERT\"",
                                                    "\"UPDATE\"",
                                                    "\"DELETE\"",
                                                    "\"END\"",
                                                    "\"HEARTBEAT\"",
                                                    "\"TRUNCATE\"",
                                                    "\"insert\"",
                                                    "\"\\u0049NSERT\"",
                                                    "\"public\"",
                                                    "\"articles\"",
                                                    "\"" + std::string(200, '9') + "\"",
                                                    "\"" + std::string(201, '9') + "\"",
                                                    "\"" + std::string(1 << 20, 'x') + "\"",
                                                    "\"unterminated",
                                                    "",
                                                    " ",
                                                    "1 ",
                                                    " 1 ",
                                                    "\t1\r\n",
                                                    "\f1"};
    return values;
}

std::string nested(int depth, const std::string& inner = "1") {
    std::string open, close;
    for (int i = 0; i < depth; ++i) {
        open += i % 2 == 0 ? "[" : "{\"k\":";
        close += i % 2 == 0 ? ']' : '}';
    }
    std::reverse(close.begin(), close.end());
    return open + inner + close;
}

}  // namespace

TEST(WireEquivalence, EveryMemberWithOddValues) {
    for (const char* name : kMemberNames) {
        for (const auto& value : odd_values()) {
            EXPECT_TRUE(same_answer(frame_with(name, value))) << name;
        }
    }
}

TEST(WireEquivalence, MembersMissingRepeatedOrReordered) {
    const Members base = members_of(sample());
    for (std::size_t i = 0; i < base.size(); ++i) {
        Members dropped = base;
        dropped.erase(dropped.begin() + static_cast<std::ptrdiff_t>(i));
        EXPECT_TRUE(same_answer(frame_of(dropped)));
        // The same member twice: nlohmann's DOM keeps the last. Each order, with a value of its
        // own, another valid one and an invalid one.
        for (const std::string& other : {base[i].second, std::string("\"x\""), std::string("7"),
                                         std::string("null"), std::string("\"\"")}) {
            Members twice = base;
            twice.push_back({base[i].first, other});
            EXPECT_TRUE(same_answer(frame_of(twice)));
            twice = base;
            twice.insert(twice.begin(), {base[i].first, other});
            EXPECT_TRUE(same_answer(frame_of(twice)));
        }
    }
    Members reversed(base.rbegin(), base.rend());
    ASSERT_TRUE(same_answer(frame_of(reversed)));
    EXPECT_TRUE(wire::decode(frame_of(reversed)).ok());
}

TEST(WireEquivalence, KeysSpelledWithEscapes) {
    for (const auto& [raw, value] : std::vector<std::pair<std::string, std::string>>{
             {"\"p\\u006b\"", "\"18\""},
             {"\"\\u0070\\u006B\"", "\"18\""},
             {"\"pk\\u0000\"", "\"18\""},
             {"\"pk \"", "\"18\""},
             {"\"PK\"", "\"18\""},
             {"\"\\ud800\"", "1"},
             {"\"\xff\"", "1"},
             {"\"\"", "1"},
             {"\"v\\\"\"", "2"},
         }) {
        std::string frame = wire::encode(sample());
        frame.insert(frame.size() - 1, "," + raw + ":" + value);
        EXPECT_TRUE(same_answer(frame));
        frame = wire::encode(sample());
        frame.insert(1, raw + ":" + value + ",");
        EXPECT_TRUE(same_answer(frame));
    }
}

TEST(WireEquivalence, UnknownMembersOfEveryKindAndDepth) {
    for (const auto& value : odd_values()) {
        EXPECT_TRUE(same_answer(frame_with("future", value).replace(1, 0, "")));
        Members members = members_of(sample());
        members.insert(members.begin() + 3, {"future", value});
        EXPECT_TRUE(same_answer(frame_of(members)));
    }
    // Deep enough to overflow the stack if recursed through: simdjson does not bound the depth of
    // what it reads.
    for (int depth : {1, 2, 10, 62, 63, 64, 65, 66, 100, 1000, 2000, 100000, 300000}) {
        for (const std::string& inner : {std::string("1"), std::string("\"\\ud800\""),
                                         std::string("1e400"), std::string("[1,]")}) {
            Members members = members_of(sample());
            members.push_back({"future", nested(depth, inner)});
            EXPECT_TRUE(same_answer(frame_of(members))) << depth << " " << inner;
        }
        // Unclosed, and closed once too often.
        Members members = members_of(sample());
        members.push_back({"future", nested(depth)});
        std::string frame = frame_of(members);
        EXPECT_TRUE(same_answer(frame.substr(0, frame.size() - 2))) << depth;
        EXPECT_TRUE(same_answer(frame + "]")) << depth;
    }
}

TEST(WireEquivalence, WhatSurroundsTheObject) {
    const std::string frame = wire::encode(sample());
    const std::string bom = "\xef\xbb\xbf";
    const std::string nul(1, '\0');
    for (const std::string& f : {
             std::string(),
             std::string(" "),
             nul,
             bom,
             std::string("{}"),
             std::string("[]"),
             std::string("null"),
             std::string("1"),
             std::string("\"x\""),
             bom + frame,
             bom + bom + frame,
             bom + " " + frame,
             " " + bom + frame,
             "\xef\xbb" + frame,
             frame + bom,
             frame + " ",
             frame + "\n",
             frame + "\t",
             frame + "\r\n",
             " \t\r\n" + frame,
             "\f" + frame,
             frame + "\f",
             frame + "x",
             frame + "}",
             frame + "]",
             frame + "{}",
             frame + frame,
             frame + ",",
             frame + nul,
             frame + nul + "garbage",
             frame + nul + "\xff",
             frame + " " + nul + "{",
             nul + frame,
             frame.substr(0, frame.size() - 1),
             frame.substr(0, frame.size() - 1) + nul + "}",
             "[" + frame + "]",
             frame.substr(0, 1) + " \n\t\r " + frame.substr(1),
             frame.substr(0, 1) + "\f" + frame.substr(1),
             frame.substr(0, 1) + nul + frame.substr(1),
             frame.substr(0, 1) + "," + frame.substr(1),
             frame.substr(0, frame.size() - 1) + ",}",
         }) {
        EXPECT_TRUE(same_answer(f));
    }
    // Whitespace between every token.
    std::string spaced;
    bool in_string = false;
    for (char c : frame) {
        if (c == '"') in_string = !in_string;
        spaced += c;
        if (!in_string && (c == ':' || c == ',' || c == '{' || c == '"')) spaced += " \n";
    }
    ASSERT_TRUE(same_answer(spaced));
    EXPECT_TRUE(wire::decode(spaced).ok());
}

TEST(WireEquivalence, GeneratedCorpus) {
    std::mt19937_64 rng(20261208);
    // The odd values but the megabyte string, which EveryMemberWithOddValues tries once.
    std::vector<std::string> values;
    std::copy_if(odd_values().begin(), odd_values().end(), std::back_inserter(values),
                 [](const std::string& v) { return v.size() < 1024; });
    const auto pick = [&](const auto& pool) -> const auto& {
        return pool[rng() % std::size(pool)];
    };
    const std::string pks[] = {
        "17",   "0",   "-1", "a:b", "caf\xc3\xa9", "\xf0\x9f\x98\x80", "", std::string(200, 'k'),
        "a\"b", "a\\b"};
    const Op ops[] = {Op::Insert, Op::Update, Op::Delete, Op::End, Op::Heartbeat};
    int accepted = 0;
    int refused = 0;
    for (int i = 0; i < 20000; ++i) {
        Event e{"ingress-" + std::to_string(rng() % 1000),
                rng(),
                rng() % 4 == 0 ? 0 : rng(),
                rng(),
                pick(ops),
                "public",
                "articles",
                pick(pks)};
        Members members = members_of(e);
        std::shuffle(members.begin(), members.end(), rng);
        const int mutations = static_cast<int>(rng() % 4);
        for (int m = 0; m < mutations; ++m) {
            auto& member = members[rng() % members.size()];
            switch (rng() % 5) {
                case 0:
                    member.second = pick(values);
                    break;
                case 1:
                    members.push_back({member.first, pick(values)});
                    break;
                case 2:
                    members.erase(members.begin() +
                                  static_cast<std::ptrdiff_t>(rng() % members.size()));
                    break;
                case 3:
                    members.insert(
                        members.begin() + static_cast<std::ptrdiff_t>(rng() % members.size()),
                        {"x" + std::to_string(rng() % 3), pick(values)});
                    break;
                case 4:
                    member.second = nested(static_cast<int>(rng() % 80));
                    break;
            }
            if (members.empty()) break;
        }
        std::string frame = frame_of(members);
        // Now and then bytes flipped, inserted or cut, and something after the object.
        for (int k = static_cast<int>(rng() % 8); k < 3; ++k) {
            const std::size_t at = rng() % frame.size();
            switch (rng() % 3) {
                case 0:
                    frame[at] = static_cast<char>(rng());
                    break;
                case 1:
                    frame.insert(at, 1, "{}[]\",:\\ 0-.eE\x00\xff"[rng() % 17]);
                    break;
                case 2:
                    frame.erase(at, 1 + rng() % 4);
                    break;
            }
            if (frame.empty()) break;
        }
        if (rng() % 16 == 0) frame += pick(values);
        const auto answer = same_answer(frame);
        ASSERT_TRUE(answer) << "frame #" << i;
        (wire::decode(frame).ok() ? accepted : refused) += 1;
    }
    // The corpus reaches both sides: valid events and refusals of every kind.
    EXPECT_GT(accepted, 2000);
    EXPECT_GT(refused, 2000);
}

namespace {

// A string of the pieces that odd events are made of: quotes, backslashes, every control
// character, DEL, UTF-8 of every length, JSON punctuation; sometimes empty, sometimes long.
std::string odd_string(std::mt19937_64& rng) {
    static const std::string pieces[] = {"a",
                                         "Z",
                                         "0",
                                         " ",
                                         "\"",
                                         "\\",
                                         "/",
                                         "\b",
                                         "\f",
                                         "\n",
                                         "\r",
                                         "\t",
                                         "\x01",
                                         "\x1f",
                                         "\x7f",
                                         std::string(1, '\0'),
                                         "{",
                                         "}",
                                         ",",
                                         ":",
                                         "\\u0041",
                                         "\xc2\x80",
                                         "\xc3\xa9",
                                         "\xdf\xbf",
                                         "\xe2\x80\x94",
                                         "\xef\xbf\xbf",
                                         "\xf0\x9f\x98\x80",
                                         "\xf4\x8f\xbf\xbf"};
    std::string s;
    std::size_t pieces_wanted = 0;
    switch (rng() % 6) {
        case 0:
            return s;
        case 1:
            pieces_wanted = 200 + rng() % 800;
            break;
        default:
            pieces_wanted = 1 + rng() % 24;
    }
    for (std::size_t i = 0; i < pieces_wanted; ++i) s += pieces[rng() % std::size(pieces)];
    return s;
}

std::uint64_t odd_number(std::mt19937_64& rng) {
    switch (rng() % 5) {
        case 0:
            return 0;
        case 1:
            return UINT64_MAX - rng() % 3;
        case 2: {
            std::uint64_t power = 1;
            for (auto k = rng() % 20; k > 0; --k) power *= 10;
            return power - rng() % 2;
        }
        default:
            return rng() >> (rng() % 64);
    }
}

// What an encoder writes for `e`: the frame, or the message of the type_error it throws.
struct Written {
    std::string frame;
    std::string error;
};

Written written_by(std::string (*encoder)(const Event&), const Event& e) {
    try {
        return {encoder(e), ""};
    } catch (const json::type_error& error) {
        return {"", error.what()};
    }
}

// Why encode's answer to `e` differs from encode_reference's: other bytes, or another exception.
::testing::AssertionResult same_bytes(const Event& e) {
    const Written fast = written_by(wire::encode, e);
    const Written reference = written_by(wire::encode_reference, e);
    if (fast.frame == reference.frame && fast.error == reference.error) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << "encode: " << (fast.error.empty() ? fast.frame : "threw " + fast.error)
           << "\n reference: "
           << (reference.error.empty() ? reference.frame : "threw " + reference.error);
}

// The strings of an event: stream, schema, table and pk.
constexpr int kStringFields = 4;
std::string& string_field(Event& e, int i) {
    return i == 0 ? e.stream : i == 1 ? e.schema : i == 2 ? e.table : e.pk;
}

}  // namespace

TEST(WireEquivalence, EncodeWritesTheReferenceBytes) {
    std::mt19937_64 rng(20261209);
    const Op ops[] = {Op::Insert, Op::Update,    Op::Delete,
                      Op::End,    Op::Heartbeat, static_cast<Op>(99)};
    for (int i = 0; i < 20000; ++i) {
        const Event e{odd_string(rng),
                      odd_number(rng),
                      odd_number(rng),
                      odd_number(rng),
                      ops[rng() % std::size(ops)],
                      odd_string(rng),
                      odd_string(rng),
                      odd_string(rng)};
        ASSERT_TRUE(same_bytes(e)) << "event #" << i;
    }
    // Each byte that is escaped or checked, at every place of a string of up to 24 bytes: the
    // encoder looks at eight bytes at a time.
    for (const std::string& odd :
         {std::string(1, '\0'), std::string("\x1f"), std::string("\""), std::string("\\"),
          std::string("\x7f"), std::string(" "), std::string("\xc3\xa9"), std::string("\xff")}) {
        for (std::size_t size = 1; size <= 24; ++size) {
            for (std::size_t at = 0; at < size; ++at) {
                Event e = sample();
                e.pk = std::string(size, 'a');
                e.pk.replace(at, 1, odd);
                ASSERT_TRUE(same_bytes(e)) << e.pk.size() << " bytes, at " << at;
            }
        }
    }
    // Every byte below 0x80 on its own, in each string.
    for (int c = 0; c < 0x80; ++c) {
        const std::string s(1, static_cast<char>(c));
        for (int field = 0; field < kStringFields; ++field) {
            Event e = sample();
            string_field(e, field) = s;
            ASSERT_TRUE(same_bytes(e)) << "byte " << c;
        }
    }
}

TEST(WireEquivalence, EncodeRefusesInvalidUtf8AsTheReference) {
    std::mt19937_64 rng(20261210);
    std::vector<std::string> strings = {
        "\xff",         "a\x80",        "\xc0\x80",         "\xc1\xbf",
        "\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
        "\xe2\x80",     "ok\xc3",       "\xf0\x9f\x98"};
    // Random bytes: mostly invalid UTF-8, sometimes not.
    for (int i = 0; i < 2000; ++i) {
        std::string s(1 + rng() % 12, '\0');
        for (char& c : s) c = static_cast<char>(rng());
        strings.push_back(s);
    }
    int refused = 0;
    for (const auto& s : strings) {
        for (int field = 0; field < kStringFields; ++field) {
            Event e = sample();
            string_field(e, field) = s;
            EXPECT_TRUE(same_bytes(e));
            refused += written_by(wire::encode_reference, e).error.empty() ? 0 : 1;
        }
    }
    EXPECT_GT(refused, 4000);
}
