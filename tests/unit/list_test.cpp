// The list module's entry point: which rows it asks the source for, the list it keeps from them,
// and reading its own list back from the cache.
#include "list/list.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cache/manifest.hpp"
#include "worker_fakes.hpp"

namespace revalidator::worker {
namespace {

using fakes::FakeSink;
using fakes::int_row;
using fakes::list_text;

const auto all_cached = [](const std::string&) { return true; };

Row row(int id, const std::string& title = "t") {
    return {std::to_string(id), int_row(id, title)};
}

Snapshot full(std::vector<Row> rows, KeyOrder order) {
    Snapshot s;
    s.rows = std::move(rows);
    s.key_order = order;
    return s;
}

Snapshot changes(std::vector<std::string> asked, std::vector<Row> found) {
    Snapshot s;
    s.asked = std::move(asked);
    s.rows = std::move(found);
    s.key_order = KeyOrder::Integer;
    return s;
}

TEST(List, IsReadWholeUntilAFullRead) {
    List list("/a", 1000, 1);
    EXPECT_EQ(list.wants(), ListRows::All);
}

TEST(List, FollowsTheRowsABatchNamesWhenOrderedByAnIntegerKey) {
    List list("/a", 1000, 1);
    list.follow(full({row(2), row(10)}, KeyOrder::Integer), true);
    EXPECT_EQ(list.wants(), ListRows::Changes);
    EXPECT_EQ(list.plan(all_cached).head, list_text({int_row(2), int_row(10)}));
    list.committed();

    list.follow(changes({"3", "10"}, {row(3, "new")}), false);
    EXPECT_EQ(list.plan(all_cached).head, list_text({int_row(2), int_row(3, "new")}));
    EXPECT_EQ(list.wants(), ListRows::Changes);
}

// A full read that failed half way (Postgres went away mid-resync) and was read again from the
// start: each row once, whatever the order, and none the failed read placed that is gone since.
TEST(List, AFullReadRetriedAfterOneAbandonedHalfWayPlacesEachRowOnce) {
    for (KeyOrder order : {KeyOrder::None, KeyOrder::Integer}) {
        List list("/a", 1000, 1);
        list.start_full();
        list.add_full({row(1), row(2)}, order);
        list.start_full();
        list.add_full({row(2, "new")}, order);
        list.add_full({row(3)}, order);
        list.finish_full(order);
        EXPECT_EQ(list.plan(all_cached).head, list_text({int_row(2, "new"), int_row(3)}))
            << (order == KeyOrder::None ? "flat" : "by key");
    }
}

TEST(List, InAnyOtherOrderIsRenderedFromEveryRowEachBatch) {
    List list("/a", 1000, 1);
    list.follow(full({row(10), row(2)}, KeyOrder::None), true);
    EXPECT_EQ(list.wants(), ListRows::All);
    EXPECT_EQ(list.plan(all_cached).head, list_text({int_row(10), int_row(2)}));

    Snapshot s = changes({"7"}, {row(7)});
    s.key_order = KeyOrder::None;
    s.listed = {row(7), row(10), row(2)};
    list.follow(s, false);
    EXPECT_EQ(list.segment_count(), 1u);
    EXPECT_EQ(list.plan(all_cached).head, list_text({int_row(7), int_row(10), int_row(2)}));
}

TEST(List, AFullReadInAnotherOrderStopsFollowingChanges) {
    List list("/a", 1000, 1);
    list.follow(full({row(1)}, KeyOrder::Integer), true);
    ASSERT_EQ(list.wants(), ListRows::Changes);
    list.follow(full({row(2), row(1)}, KeyOrder::None), true);
    EXPECT_EQ(list.wants(), ListRows::All);
    EXPECT_EQ(list.plan(all_cached).head, list_text({int_row(2), int_row(1)}));
}

TEST(List, AnEmptyTableIsAnEmptyArray) {
    for (KeyOrder order : {KeyOrder::Integer, KeyOrder::Uuid, KeyOrder::None}) {
        List list("/a", 1000, 1);
        list.follow(full({}, order), true);
        EXPECT_EQ(list.plan(all_cached).head, "[]");
    }
}

TEST(List, ReadsBackAListStoredWhole) {
    FakeSink sink;
    sink.store["/a"] = "[1]";
    List list("/a", 1000, 1);
    Lookup back = list.read_back(sink);
    EXPECT_EQ(back.value, "[1]");
    EXPECT_TRUE(back.reachable);
}

TEST(List, ReadsBackAChunkedListAndAdoptsItsParts) {
    FakeSink sink;
    sink.store["/a:part:5:0"] = "[1, ";
    sink.store["/a:part:5:1"] = "2]";
    sink.store["/a"] = manifest::encode(6, {"/a:part:5:0", "/a:part:5:1"});
    List list("/a", 1000, 1);
    EXPECT_EQ(list.read_back(sink).value, "[1, 2]");

    list.follow(full({row(1)}, KeyOrder::Integer), true);
    ListPlan plan = list.plan(all_cached);
    EXPECT_EQ(plan.obsolete, (std::vector<std::string>{"/a:part:5:0", "/a:part:5:1"}));
}

TEST(List, ReadsBackNothingFromAManifestNamingAPartThatCannotBeAKey) {
    FakeSink sink;
    sink.store["/a:part:5:0"] = "[1]";
    sink.store["/a"] = R"({"chunked":true,"bytes":3,"parts":["/a:part:5:0","/a x"]})";
    List list("/a", 1000, 1);
    Lookup back = list.read_back(sink);
    EXPECT_FALSE(back.value);
    EXPECT_TRUE(back.reachable);
    EXPECT_TRUE(sink.misread_keys.empty());

    list.follow(full({row(1)}, KeyOrder::Integer), true);
    EXPECT_EQ(list.plan(all_cached).obsolete, std::vector<std::string>{"/a:part:5:0"});
}

TEST(List, ReadsBackNothingWhenAPartIsMissingOrTheCacheIsAway) {
    FakeSink sink;
    sink.store["/a"] = manifest::encode(3, {"/a:part:5:0"});
    List list("/a", 1000, 1);
    Lookup back = list.read_back(sink);
    EXPECT_FALSE(back.value);
    EXPECT_TRUE(back.reachable);

    sink.unreachable_keys = {"/a:part:5:0"};
    back = list.read_back(sink);
    EXPECT_FALSE(back.value);
    EXPECT_FALSE(back.reachable);

    sink.unreachable = true;
    back = list.read_back(sink);
    EXPECT_FALSE(back.value);
    EXPECT_FALSE(back.reachable);
}

TEST(List, ReadsBackNothingFromAHeadThatIsNotAManifest) {
    FakeSink sink;
    sink.store["/a"] = "{not json";
    List list("/a", 1000, 1);
    Lookup back = list.read_back(sink);
    EXPECT_FALSE(back.value);
    EXPECT_TRUE(back.reachable);
}

}  // namespace
}  // namespace revalidator::worker
