// The in-memory list: rows in pk order, kept in versioned segments that concatenate to the list.
#include "list/segments.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace revalidator::worker {
namespace {

Row row(long id, const std::string& title = "t") {
    return {std::to_string(id),
            "{\"id\": " + std::to_string(id) + ", \"title\": \"" + title + "\"}"};
}

std::string text_of(const std::vector<ListSegment>& list) {
    std::string all;
    for (const auto& s : list) all += *s.text;
    return all;
}

std::string list_of(const std::vector<Row>& rows) {
    std::vector<std::string_view> elements;
    for (const auto& r : rows) elements.push_back(r.json);
    return jsonb_array_text(elements);
}

std::string model_list(const std::map<long, std::string>& model) {
    std::vector<std::string_view> elements;
    for (const auto& [_, json] : model) elements.push_back(json);
    return jsonb_array_text(elements);
}

// The rows a segment holds: its text without the leading "[" or ", " and the trailing "]".
std::size_t rows_in(const std::string& text) {
    std::string inner = text;
    if (inner.rfind("[", 0) == 0) {
        inner.erase(0, 1);
    } else if (inner.rfind(", ", 0) == 0) {
        inner.erase(0, 2);
    }
    if (!inner.empty() && inner.back() == ']') inner.pop_back();
    if (inner.empty()) return 0;
    return nlohmann::json::parse("[" + inner + "]").size();
}

// Which segment (by index) holds the row with this JSON text.
std::size_t segment_of(const std::vector<ListSegment>& list, const std::string& json) {
    for (std::size_t i = 0; i < list.size(); ++i) {
        if (list[i].text->find(json) != std::string::npos) return i;
    }
    return list.size();
}

class ListSegmentsTest : public ::testing::Test {
  protected:
    std::uint64_t versions = 0;
};

TEST(JsonbArrayText, MatchesPostgresRendering) {
    EXPECT_EQ(jsonb_array_text({}), "[]");
    EXPECT_EQ(jsonb_array_text({"1"}), "[1]");
    EXPECT_EQ(jsonb_array_text({"{\"a\": 1}", "{\"a\": 2}"}), "[{\"a\": 1}, {\"a\": 2}]");
}

TEST_F(ListSegmentsTest, InvalidUntilAFullRead) {
    ListSegments c(1000, versions);
    EXPECT_FALSE(c.valid());
    c.replace({}, KeyOrder::Integer);
    EXPECT_TRUE(c.valid());
    auto list = c.segments();
    EXPECT_EQ(text_of(list), "[]");
    ASSERT_EQ(list.size(), 1u);
    EXPECT_NE(list[0].version, 0u);
}

TEST_F(ListSegmentsTest, OrdersNumericallyNotTextually) {
    ListSegments c(1000, versions);
    c.replace({row(10), row(9), row(-1), row(100)}, KeyOrder::Integer);
    EXPECT_EQ(text_of(c.segments()), list_of({row(-1), row(9), row(10), row(100)}));
}

TEST_F(ListSegmentsTest, IntegerExtremesKeepTheirOrder) {
    ListSegments c(1000, versions);
    const long lo = std::numeric_limits<long>::min(), hi = std::numeric_limits<long>::max();
    c.replace({row(hi), row(0), row(lo), row(1), row(-1)}, KeyOrder::Integer);
    EXPECT_EQ(text_of(c.segments()), list_of({row(lo), row(-1), row(0), row(1), row(hi)}));
}

// A uuid row as Postgres renders it; `pk` in canonical form.
Row uuid_row(const std::string& pk, const std::string& title = "t") {
    return {pk, "{\"id\": \"" + pk + "\", \"title\": \"" + title + "\"}"};
}

std::string random_uuid(std::mt19937_64& rng) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < 32; ++i) {
        if (i == 8 || i == 12 || i == 16 || i == 20) s += '-';
        s += kHex[rng() % 16];
    }
    return s;
}

// Postgres orders uuids by their 16 bytes: the byte order of the canonical text.
TEST_F(ListSegmentsTest, OrdersUuidsAsPostgresDoes) {
    std::mt19937_64 rng(7);
    std::map<std::string, Row> sorted;
    for (const char* edge :
         {"00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
          "0a000000-0000-0000-0000-000000000000", "a0000000-0000-0000-0000-000000000000",
          "a0000000-0000-0000-0000-00000000000f"}) {
        sorted.emplace(edge, uuid_row(edge));
    }
    while (sorted.size() < 300) {
        auto pk = random_uuid(rng);
        sorted.emplace(pk, uuid_row(pk));
    }
    std::vector<Row> rows;
    for (const auto& [_, r] : sorted) rows.push_back(r);
    std::vector<Row> shuffled = rows;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    ListSegments c(2000, versions);
    c.replace(shuffled, KeyOrder::Uuid);
    ASSERT_TRUE(c.valid());
    EXPECT_EQ(text_of(c.segments()), list_of(rows));
    EXPECT_GT(c.segments().size(), 3u);
}

TEST_F(ListSegmentsTest, AppliesUuidUpsertsAndDeletes) {
    const std::string a = "10000000-0000-4000-8000-000000000000";
    const std::string b = "20000000-0000-4000-8000-000000000000";
    const std::string c3 = "30000000-0000-4000-8000-000000000000";
    const std::string d = "0f000000-0000-4000-8000-000000000000";
    ListSegments c(1000, versions);
    c.replace({uuid_row(c3), uuid_row(a), uuid_row(b)}, KeyOrder::Uuid);
    // b changed, c3 gone, d new (and first).
    c.apply({b, c3, d}, {uuid_row(b, "new"), uuid_row(d)});
    EXPECT_EQ(text_of(c.segments()), list_of({uuid_row(d), uuid_row(a), uuid_row(b, "new")}));
}

// The worker spells every id as Postgres does (lower case) before the list sees it; a row in any
// other spelling is not of the table, and an id so spelled names no row of the list.
TEST_F(ListSegmentsTest, ANonCanonicalUuidNamesNoRowAndARowSoSpelledInvalidates) {
    const std::string a = "10000000-0000-4000-8000-00000000000a";
    ListSegments c(1000, versions);
    c.replace({uuid_row(a)}, KeyOrder::Uuid);
    c.apply({"10000000-0000-4000-8000-00000000000A", "not-a-uuid"}, {});
    EXPECT_TRUE(c.valid());
    EXPECT_EQ(text_of(c.segments()), list_of({uuid_row(a)}));
    c.apply({}, {uuid_row("10000000-0000-4000-8000-00000000000A")});
    EXPECT_FALSE(c.valid());
    c.replace({uuid_row(a), {"7", "{}"}}, KeyOrder::Uuid);
    EXPECT_FALSE(c.valid()) << "an integer is not a uuid";
}

TEST_F(ListSegmentsTest, AppliesUpsertsAndDeletes) {
    ListSegments c(1000, versions);
    c.replace({row(1), row(2), row(3)}, KeyOrder::Integer);
    // 2 changed, 3 gone, 4 new, 5 named but absent (never existed).
    c.apply({"2", "3", "4", "5"}, {row(2, "new"), row(4)});
    EXPECT_EQ(text_of(c.segments()), list_of({row(1), row(2, "new"), row(4)}));
}

TEST_F(ListSegmentsTest, NonIntegerKeyInvalidates) {
    ListSegments c(1000, versions);
    c.replace({row(1), {"abc", "{}"}}, KeyOrder::Integer);
    EXPECT_FALSE(c.valid());
    c.replace({row(1)}, KeyOrder::Integer);
    EXPECT_TRUE(c.valid());
    c.apply({"x"}, {{"x", "{}"}});
    EXPECT_FALSE(c.valid());
    c.replace({row(2)}, KeyOrder::Integer);  // a full read heals it
    EXPECT_TRUE(c.valid());
    EXPECT_EQ(text_of(c.segments()), list_of({row(2)}));
}

TEST_F(ListSegmentsTest, IdsThatCannotBeIntegersAreIgnoredOnDelete) {
    ListSegments c(1000, versions);
    c.replace({row(1)}, KeyOrder::Integer);
    c.apply({"not-a-number"}, {});
    EXPECT_TRUE(c.valid());
    EXPECT_EQ(text_of(c.segments()), list_of({row(1)}));
}

// Postgres matches "007" to row 7 and answers with pk "7"; the row is then present, not gone.
// An id in any spelling but the one Postgres gives rows names no row of the list.
TEST_F(ListSegmentsTest, AnIdSpelledOtherwiseThanItsRowNeverRemovesIt) {
    ListSegments c(1000, versions);
    c.replace({row(0), row(7)}, KeyOrder::Integer);
    c.apply({"007"}, {row(7, "new")});
    EXPECT_EQ(text_of(c.segments()), list_of({row(0), row(7, "new")}));
    c.apply({"007", "+7", "-0", "00", "7.0"}, {});
    EXPECT_TRUE(c.valid());
    EXPECT_EQ(text_of(c.segments()), list_of({row(0), row(7, "new")}));
    c.apply({"7", "0"}, {});
    EXPECT_EQ(text_of(c.segments()), "[]");
}

TEST_F(ListSegmentsTest, SegmentsAreShapedAsPiecesOfOneArray) {
    ListSegments c(120, versions);
    std::vector<Row> rows;
    for (int i = 1; i <= 20; ++i) rows.push_back(row(i));
    c.replace(rows, KeyOrder::Integer);
    auto list = c.segments();
    ASSERT_GT(list.size(), 3u);
    EXPECT_EQ(list.front().text->front(), '[');
    for (std::size_t i = 1; i < list.size(); ++i) {
        EXPECT_EQ(list[i].text->rfind(", ", 0), 0u) << *list[i].text;
    }
    EXPECT_EQ(list.back().text->back(), ']');
    for (const auto& s : list) EXPECT_LE(s.text->size(), 120u) << *s.text;
    EXPECT_EQ(text_of(list), list_of(rows));
}

TEST_F(ListSegmentsTest, UntouchedSegmentsKeepTheirVersion) {
    ListSegments c(120, versions);
    std::vector<Row> rows;
    for (int i = 1; i <= 20; ++i) rows.push_back(row(i));
    c.replace(rows, KeyOrder::Integer);
    auto before = c.segments();
    ASSERT_GT(before.size(), 3u);

    // Asking again without a change gives the very same segments.
    auto again = c.segments();
    ASSERT_EQ(again.size(), before.size());
    for (std::size_t i = 0; i < before.size(); ++i) {
        EXPECT_EQ(again[i].version, before[i].version);
        EXPECT_EQ(again[i].text, before[i].text);
    }

    // One row changes (same size, so nothing splits or merges): only its segment is new.
    const std::size_t touched = segment_of(before, row(10).json);
    ASSERT_LT(touched, before.size());
    c.apply({"10"}, {row(10, "u")});
    auto after = c.segments();
    ASSERT_EQ(after.size(), before.size());
    for (std::size_t i = 0; i < after.size(); ++i) {
        if (i == touched) {
            EXPECT_GT(after[i].version, before[i].version);
            EXPECT_NE(after[i].text->find(row(10, "u").json), std::string::npos);
        } else {
            EXPECT_EQ(after[i].version, before[i].version) << i;
            EXPECT_EQ(*after[i].text, *before[i].text) << i;
        }
    }

    // Naming rows that did not change (an upsert to the same text, a delete of an absent row)
    // touches nothing.
    c.apply({"3", "999"}, {row(3)});
    auto same = c.segments();
    ASSERT_EQ(same.size(), after.size());
    for (std::size_t i = 0; i < same.size(); ++i) EXPECT_EQ(same[i].version, after[i].version);

    // A full read renews every segment, so a resync rewrites the whole list.
    c.replace(rows, KeyOrder::Integer);
    std::set<std::uint64_t> old;
    for (const auto& s : same) old.insert(s.version);
    for (const auto& s : c.segments()) EXPECT_FALSE(old.count(s.version)) << s.version;
}

TEST_F(ListSegmentsTest, AFullReadFedInRunsIsTheListOfItsRows) {
    std::vector<Row> rows;
    for (int i = 1; i <= 40; ++i) rows.push_back(row(i));
    ListSegments whole(120, versions);
    whole.replace(rows, KeyOrder::Integer);
    const auto expected = text_of(whole.segments());

    ListSegments runs(120, versions);
    runs.start(KeyOrder::Integer);
    for (std::size_t i = 0; i < rows.size(); i += 7) {
        runs.append({rows.begin() + static_cast<std::ptrdiff_t>(i),
                     rows.begin() + static_cast<std::ptrdiff_t>(std::min(i + 7, rows.size()))});
    }
    runs.finish();
    EXPECT_TRUE(runs.valid());
    auto list = runs.segments();
    EXPECT_GT(list.size(), 3u);
    EXPECT_EQ(text_of(list), expected);
    for (const auto& s : list) EXPECT_LE(s.text->size(), 120u) << *s.text;

    // Rows out of order, or named twice (the last wins), are placed all the same.
    runs.start(KeyOrder::Integer);
    runs.append({row(5), row(9), row(1)});
    runs.append({row(7), row(12), row(9, "again")});
    runs.finish();
    EXPECT_EQ(text_of(runs.segments()),
              list_of({row(1), row(5), row(7), row(9, "again"), row(12)}));

    // A key of another kind in a later run: nothing is kept, as with replace().
    runs.start(KeyOrder::Integer);
    runs.append({row(1)});
    runs.append({{"abc", "{}"}});
    runs.append({row(2)});
    runs.finish();
    EXPECT_FALSE(runs.valid());
}

TEST_F(ListSegmentsTest, RowsBetweenAreTheRangesRowsAcrossSegments) {
    ListSegments c(120, versions);
    std::vector<Row> rows;
    for (int i = 1; i <= 30; ++i) rows.push_back(row(i));
    c.replace(rows, KeyOrder::Integer);
    ASSERT_GT(c.segments().size(), 5u);
    auto got = c.rows_between("4", "17");
    ASSERT_EQ(got.size(), 13u);
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].first, std::to_string(i + 5));
        EXPECT_EQ(got[i].second, row(static_cast<long>(i) + 5).json);
    }
    EXPECT_EQ(c.rows_between(std::nullopt, "2").size(), 2u);
    EXPECT_EQ(c.rows_between("28", std::nullopt).size(), 2u);
    EXPECT_EQ(c.rows_between(std::nullopt, std::nullopt).size(), 30u);
    EXPECT_TRUE(c.rows_between("30", std::nullopt).empty());

    // A change not rendered yet is the row as it is now.
    c.apply({"6", "7"}, {row(6, "new")});
    got = c.rows_between("4", "8");
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].second, row(5).json);
    EXPECT_EQ(got[1].second, row(6, "new").json);
    EXPECT_EQ(got[2].first, "8");
}

TEST_F(ListSegmentsTest, DeletingTheLastRowRerendersTheNewLastSegment) {
    ListSegments c(120, versions);
    std::vector<Row> rows;
    for (int i = 1; i <= 20; ++i) rows.push_back(row(i));
    c.replace(rows, KeyOrder::Integer);
    auto before = c.segments();
    const std::size_t last = before.size() - 1;
    std::vector<std::string> pks;
    for (int i = 1; i <= 20; ++i) {
        if (segment_of(before, row(i).json) == last) pks.push_back(std::to_string(i));
    }
    c.apply(pks, {});  // the whole last segment goes
    auto after = c.segments();
    ASSERT_EQ(after.size(), before.size() - 1);
    EXPECT_EQ(after.back().text->back(), ']');
    EXPECT_NE(after.back().version, before[last - 1].version);
    for (std::size_t i = 0; i + 1 < after.size(); ++i) {
        EXPECT_EQ(after[i].version, before[i].version);
    }
    rows.resize(20 - pks.size());
    EXPECT_EQ(text_of(after), list_of(rows));
}

TEST_F(ListSegmentsTest, ARowBelowTheLowestPkGoesFirst) {
    ListSegments c(120, versions);
    std::vector<Row> rows;
    for (int i = 10; i <= 30; ++i) rows.push_back(row(i));
    c.replace(rows, KeyOrder::Integer);
    c.segments();
    c.apply({"5", "-7"}, {row(5), row(-7)});
    auto list = c.segments();
    rows.insert(rows.begin(), {row(-7), row(5)});
    EXPECT_EQ(text_of(list), list_of(rows));
    EXPECT_EQ(list.front().text->rfind("[" + row(-7).json, 0), 0u);

    // And again after the lowest rows went away.
    c.apply({"-7", "5", "10", "11"}, {});
    c.apply({"1"}, {row(1)});
    rows.erase(rows.begin(), rows.begin() + 4);
    rows.insert(rows.begin(), row(1));
    EXPECT_EQ(text_of(c.segments()), list_of(rows));
}

TEST_F(ListSegmentsTest, DeletingEverythingGivesAnEmptyList) {
    ListSegments c(120, versions);
    std::vector<Row> rows;
    std::vector<std::string> pks;
    for (int i = 1; i <= 20; ++i) {
        rows.push_back(row(i));
        pks.push_back(std::to_string(i));
    }
    c.replace(rows, KeyOrder::Integer);
    auto full = c.segments();
    c.apply(pks, {});
    auto empty = c.segments();
    ASSERT_EQ(empty.size(), 1u);
    EXPECT_EQ(*empty[0].text, "[]");
    for (const auto& s : full) EXPECT_NE(empty[0].version, s.version);
    EXPECT_EQ(c.segments()[0].version, empty[0].version);  // unchanged: the same version

    c.apply({"4"}, {row(4)});
    auto one = c.segments();
    EXPECT_EQ(text_of(one), list_of({row(4)}));
    ASSERT_EQ(one.size(), 1u);
    EXPECT_NE(one[0].version, empty[0].version);

    c.apply({"4"}, {});
    auto again = c.segments();
    EXPECT_EQ(text_of(again), "[]");
    EXPECT_NE(again[0].version, empty[0].version);  // a version is never reused
    EXPECT_NE(again[0].version, one[0].version);
}

TEST_F(ListSegmentsTest, AGrowingSegmentIsSplitAndAShrinkingOneMerged) {
    ListSegments c(200, versions);
    std::vector<Row> rows;
    for (int i = 1; i <= 10; ++i) rows.push_back(row(i));
    c.replace(rows, KeyOrder::Integer);
    const std::size_t before = c.segments().size();

    std::vector<std::string> pks;
    std::vector<Row> grown;
    for (int i = 1; i <= 10; ++i) {
        pks.push_back(std::to_string(i));
        grown.push_back(row(i, std::string(40, 'g')));
    }
    c.apply(pks, grown);
    auto list = c.segments();
    EXPECT_GT(list.size(), before);
    for (const auto& s : list) EXPECT_LE(s.text->size(), 200u) << *s.text;
    EXPECT_EQ(text_of(list), list_of(grown));

    c.apply(pks, rows);  // back to the small rows: the list is right whatever the segments
    list = c.segments();
    EXPECT_EQ(text_of(list), list_of(rows));

    // Most rows go, and the two left are small: they end up in one segment.
    c.apply(pks, {row(1), row(10)});
    list = c.segments();
    EXPECT_EQ(text_of(list), list_of({row(1), row(10)}));
    EXPECT_EQ(list.size(), 1u);
}

TEST_F(ListSegmentsTest, ARowLargerThanASegmentStaysAlone) {
    ListSegments c(100, versions);
    std::vector<Row> rows = {row(1), row(2), row(3, std::string(300, 'L')), row(4), row(5)};
    c.replace(rows, KeyOrder::Integer);
    auto list = c.segments();
    EXPECT_EQ(text_of(list), list_of(rows));
    for (const auto& s : list) {
        if (rows_in(*s.text) > 1) {
            EXPECT_LE(s.text->size(), 100u) << *s.text;
        }
    }
    const std::size_t big = segment_of(list, rows[2].json);
    ASSERT_LT(big, list.size());
    EXPECT_EQ(rows_in(*list[big].text), 1u);

    // Rows arriving next to it do not join it.
    c.apply({"6", "0"}, {row(6), row(0)});
    list = c.segments();
    rows.insert(rows.begin(), row(0));
    rows.push_back(row(6));
    EXPECT_EQ(text_of(list), list_of(rows));
    for (const auto& s : list) {
        if (rows_in(*s.text) > 1) {
            EXPECT_LE(s.text->size(), 100u) << *s.text;
        }
    }
}

// Random batches against a std::map model, with segments small enough that splits and merges
// happen all the time.
TEST_F(ListSegmentsTest, SegmentsAlwaysConcatenateToTheList) {
    constexpr std::size_t segment_bytes = 150;
    std::mt19937 rng(20240611);
    ListSegments c(segment_bytes, versions);
    std::map<long, std::string> model;
    std::map<std::uint64_t, std::string> text_of_version;  // every version ever seen
    std::set<std::uint64_t> current;
    std::size_t splits_or_merges = 0;

    auto random_row = [&](long id) {
        const std::size_t len = rng() % 8 == 0 ? 120 + rng() % 100 : rng() % 40;
        return row(id, std::string(len, static_cast<char>('a' + rng() % 26)));
    };
    for (long id = 0; id < 30; ++id) {
        Row r = random_row(id * 3);
        model[id * 3] = r.json;
    }
    auto full_read = [&] {
        std::vector<Row> rows;
        for (const auto& [id, json] : model) rows.push_back({std::to_string(id), json});
        std::shuffle(rows.begin(), rows.end(), rng);  // a full read may come in any order
        c.replace(rows, KeyOrder::Integer);
    };
    full_read();

    for (int step = 0; step < 600; ++step) {
        if (step % 97 == 96) {
            full_read();
        } else {
            const int batches = 1 + rng() % 2;  // sometimes two batches between two lists
            for (int b = 0; b < batches; ++b) {
                std::vector<std::string> pks;
                std::vector<Row> found;
                const int n = 1 + rng() % 6;
                for (int i = 0; i < n; ++i) {
                    // Mostly near the existing rows, sometimes far below or above them.
                    const long id = rng() % 10 == 0 ? static_cast<long>(rng() % 2000) - 1000
                                                    : static_cast<long>(rng() % 120) - 10;
                    pks.push_back(std::to_string(id));
                    if (rng() % 3 == 0) {
                        model.erase(id);
                    } else {
                        Row r = random_row(id);
                        model[id] = r.json;
                    }
                }
                // The source's answer: the rows named that exist now (each pk once).
                std::set<long> named;
                for (const auto& pk : pks) named.insert(std::stol(pk));
                for (long id : named) {
                    if (auto it = model.find(id); it != model.end()) {
                        found.push_back({std::to_string(id), it->second});
                    }
                }
                c.apply(pks, found);
            }
            ASSERT_TRUE(c.valid());
        }

        auto list = c.segments();
        ASSERT_FALSE(list.empty());
        ASSERT_EQ(text_of(list), model_list(model)) << "at step " << step;
        EXPECT_EQ(list.front().text->front(), '[');
        EXPECT_EQ(list.back().text->back(), ']');
        std::set<std::uint64_t> now;
        for (std::size_t i = 0; i < list.size(); ++i) {
            const auto& s = list[i];
            if (i > 0) {
                EXPECT_EQ(s.text->rfind(", ", 0), 0u) << "at step " << step;
            }
            const std::size_t rows = rows_in(*s.text);
            if (!model.empty()) {
                EXPECT_GE(rows, 1u) << "an empty segment at step " << step;
            }
            if (rows > 1) {
                EXPECT_LE(s.text->size(), segment_bytes) << "at step " << step;
            }
            // A version names one text, and once gone never comes back.
            auto [seen, added] = text_of_version.try_emplace(s.version, *s.text);
            if (!added) {
                EXPECT_EQ(seen->second, *s.text) << "version " << s.version << " reused";
                EXPECT_TRUE(current.count(s.version)) << "version " << s.version << " came back";
            }
            EXPECT_TRUE(now.insert(s.version).second) << "twice in one list at step " << step;
        }
        if (now.size() != current.size()) ++splits_or_merges;
        current = std::move(now);
    }
    EXPECT_GT(splits_or_merges, 20u);  // the test exercised what it is about
    EXPECT_GT(model.size(), 20u);
}

}  // namespace
}  // namespace revalidator::worker
