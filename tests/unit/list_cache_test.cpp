#include "list_cache.hpp"

#include <gtest/gtest.h>

namespace revalidator::worker {
namespace {

Row row(long id, const std::string& title = "t") {
    return {std::to_string(id),
            "{\"id\": " + std::to_string(id) + ", \"title\": \"" + title + "\"}"};
}

TEST(JsonbArrayText, MatchesPostgresRendering) {
    EXPECT_EQ(jsonb_array_text({}), "[]");
    EXPECT_EQ(jsonb_array_text({"1"}), "[1]");
    EXPECT_EQ(jsonb_array_text({"{\"a\": 1}", "{\"a\": 2}"}), "[{\"a\": 1}, {\"a\": 2}]");
}

TEST(ListCache, InvalidUntilAFullRead) {
    ListCache c;
    EXPECT_FALSE(c.valid());
    c.replace({});
    EXPECT_TRUE(c.valid());
    EXPECT_EQ(c.render(), "[]");
}

TEST(ListCache, OrdersNumericallyNotTextually) {
    ListCache c;
    c.replace({row(10), row(9), row(-1), row(100)});
    EXPECT_EQ(c.render(),
              jsonb_array_text({row(-1).json, row(9).json, row(10).json, row(100).json}));
}

TEST(ListCache, AppliesUpsertsAndDeletes) {
    ListCache c;
    c.replace({row(1), row(2), row(3)});
    // 2 changed, 3 gone, 4 new, 5 named but absent (never existed).
    c.apply({"2", "3", "4", "5"}, {row(2, "new"), row(4)});
    EXPECT_EQ(c.render(), jsonb_array_text({row(1).json, row(2, "new").json, row(4).json}));
}

TEST(ListCache, NonIntegerKeyInvalidates) {
    ListCache c;
    c.replace({row(1), {"abc", "{}"}});
    EXPECT_FALSE(c.valid());
    c.replace({row(1)});
    c.apply({"x"}, {{"x", "{}"}});
    EXPECT_FALSE(c.valid());
}

TEST(ListCache, IdsThatCannotBeIntegersAreIgnoredOnDelete) {
    ListCache c;
    c.replace({row(1)});
    c.apply({"not-a-number"}, {});
    EXPECT_TRUE(c.valid());
    EXPECT_EQ(c.render(), jsonb_array_text({row(1).json}));
}

}  // namespace
}  // namespace revalidator::worker
