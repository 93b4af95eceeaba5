// Applier: batches and full resyncs against an in-memory source and cache.
#include "applier.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cache/list_version.hpp"
#include "postgres/sql.hpp"
#include "runtime/clock.hpp"
#include "worker_fakes.hpp"

namespace revalidator::worker {
namespace {

using fakes::FakeSink;
using fakes::FakeSource;
using fakes::int_row;
using fakes::list_text;
using fakes::row_json;

Batch rows_batch(const std::vector<std::string>& pks, std::uint64_t received_us = 1) {
    Batch b;
    b.pks = pks;
    for (const auto& pk : pks) b.received[pk] = received_us;
    return b;
}

Batch full_batch(const std::string& reason = "test") {
    Batch b;
    b.full = true;
    b.reason = reason;
    return b;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

std::vector<std::string> keys_of(const std::unordered_map<std::string, std::uint64_t>& m) {
    std::vector<std::string> keys;
    for (const auto& [k, _] : m) keys.push_back(k);
    return sorted(keys);
}

class ApplierTest : public ::testing::Test {
  protected:
    FakeSource source;
    FakeSink sink;
    metrics::Registry registry;
    // Full resyncs in runs of two rows, so that every test crosses runs.
    ApplierConfig cfg = [] {
        auto c = fakes::default_applier();
        c.run_rows = 2;
        return c;
    }();

    // Built on first use, so that a test can change cfg first.
    Applier& applier() {
        if (!applier_) applier_ = std::make_unique<Applier>(source, sink, cfg, registry);
        return *applier_;
    }

    double metric(const std::string& series) const {
        return fakes::metric(registry.render(), series).value_or(-1);
    }

    // Whatever a test does, no key Memcached would misread is ever sent.
    void TearDown() override {
        for (const auto& key : sink.misread_keys) {
            ADD_FAILURE() << "key sent to the cache: " << nlohmann::json(key).dump();
        }
    }

  private:
    std::unique_ptr<Applier> applier_;
};

// Absent markers (docs/cache-layout.md, "Absent rows").

std::size_t op_index(const FakeSink& sink, const std::string& op) {
    auto it = std::find(sink.ops.begin(), sink.ops.end(), op);
    return it == sink.ops.end() ? SIZE_MAX : static_cast<std::size_t>(it - sink.ops.begin());
}

TEST_F(ApplierTest, ARowAskedForThatDoesNotExistGetsAShortLivedMarkerAndNoRowKey) {
    cfg.absent_ttl = std::chrono::seconds(60);
    source.put(1, "one");
    EXPECT_TRUE(applier().apply(rows_batch({"9"})).done());
    EXPECT_EQ(sink.at("/articles:absent/9"), "absent");
    EXPECT_EQ(sink.ttls.at("/articles:absent/9"), std::chrono::seconds(60)) << "it expires";
    EXPECT_FALSE(sink.has("/articles/9")) << "the row key stays absent when the row is";
    EXPECT_EQ(sink.at("/articles"), "[" + int_row(1, "one") + "]") << "a marker is no row";
    EXPECT_EQ(metric("revalidator_worker_absent_markers_written_total"), 1);
    EXPECT_EQ(sink.ttls.size(), 1u) << "nothing else is written with an expiry";
}

TEST_F(ApplierTest, NoMarkerWhenTheirLifetimeIsZero) {
    cfg.absent_ttl = std::chrono::seconds(0);
    EXPECT_TRUE(applier().apply(rows_batch({"9"})).done());
    EXPECT_FALSE(sink.has("/articles:absent/9"));
}

TEST_F(ApplierTest, AnInsertDeletesTheMarkerBeforeTheRowIsWritten) {
    cfg.absent_ttl = std::chrono::seconds(60);
    applier().apply(rows_batch({"9"}));
    ASSERT_TRUE(sink.has("/articles:absent/9"));
    source.put(9, "late");
    sink.ops.clear();
    EXPECT_TRUE(applier().apply(rows_batch({"9"})).done());
    EXPECT_FALSE(sink.has("/articles:absent/9"));
    EXPECT_EQ(sink.at("/articles/9"), int_row(9, "late"));
    EXPECT_LT(op_index(sink, "remove /articles:absent/9"), op_index(sink, "set /articles/9"))
        << "a reader never finds the row key missing and the marker still there after the row";
}

TEST_F(ApplierTest, AResyncTreatsMarkersAsNoRowsAndDeletesThoseOfRowsItWrites) {
    cfg.absent_ttl = std::chrono::seconds(60);
    source.put(1, "one");
    applier().apply(full_batch());
    applier().apply(rows_batch({"8", "9"}));
    ASSERT_TRUE(sink.has("/articles:absent/8"));
    source.put(9, "nine");  // its webhook lost: the resync brings it
    sink.ops.clear();
    EXPECT_TRUE(applier().apply(full_batch()).done());
    EXPECT_EQ(sink.at("/articles:absent/8"), "absent") << "a live marker of an absent row stays";
    EXPECT_FALSE(sink.has("/articles:absent/9"));
    EXPECT_LT(op_index(sink, "remove /articles:absent/9"), op_index(sink, "set /articles/9"));
    EXPECT_FALSE(sink.has("/articles/8"));
    EXPECT_EQ(metric("revalidator_worker_stale_keys_deleted_total"), 0) << "no marker is a row";
    EXPECT_EQ(op_index(sink, "remove /articles:absent/1"), SIZE_MAX)
        << "a resync deletes only the markers this process knows of";
}

// A previous writer's markers are unknown to this process: for their lifetime after it takes
// over, each row it writes deletes its marker; otherwise only its own markers cost a delete.
TEST_F(ApplierTest, AfterATakeoverEachRowWrittenDeletesAMarkerAPreviousWriterMayHaveLeft) {
    cfg.absent_ttl = std::chrono::seconds(60);
    source.put(5, "five");
    source.put(6, "six");
    sink.store["/articles:absent/6"] = "absent";  // left by another writer
    applier().apply(rows_batch({"5"}));
    EXPECT_EQ(op_index(sink, "remove /articles:absent/5"), SIZE_MAX) << "no marker known";
    applier().took_over();
    EXPECT_TRUE(applier().apply(rows_batch({"6"})).done());
    EXPECT_FALSE(sink.has("/articles:absent/6"));
    EXPECT_LT(op_index(sink, "remove /articles:absent/6"), op_index(sink, "set /articles/6"));
}

// Those deletes go in one round for the whole batch (McSink pipelines it), and a batch's
// deleted rows' keys and their new markers go in one round each too: a burst after a takeover
// costs no round trip per row.
TEST_F(ApplierTest, ABatchsDeletesAndMarkersAreOneRoundEach) {
    cfg.absent_ttl = std::chrono::seconds(60);
    std::vector<std::string> pks;
    for (int i = 1; i <= 50; ++i) {
        source.put(i, "row");
        pks.push_back(std::to_string(i));
    }
    applier().apply(full_batch());
    applier().took_over();
    const int rounds = sink.remove_rounds, removes = sink.removes;
    EXPECT_TRUE(applier().apply(rows_batch(pks)).done());
    EXPECT_EQ(sink.remove_rounds - rounds, 1);
    EXPECT_EQ(sink.removes - removes, 50) << "a marker delete per row, in that one round";

    std::vector<std::string> gone;
    for (int i = 1; i <= 20; ++i) {
        source.table.erase(std::to_string(i));
        gone.push_back(std::to_string(i));
    }
    const int rounds2 = sink.remove_rounds;
    const int sets2 = sink.sets;
    EXPECT_TRUE(applier().apply(rows_batch(gone)).done());
    EXPECT_EQ(sink.remove_rounds - rounds2, 1) << "the rows' keys, at once";
    for (const auto& pk : gone) {
        EXPECT_FALSE(sink.has("/articles/" + pk));
        EXPECT_EQ(sink.ttls.at("/articles:absent/" + pk), std::chrono::seconds(60));
    }
    EXPECT_GE(sink.sets - sets2, 20) << "the markers";
}

TEST_F(ApplierTest, AMarkerWhoseDeleteFailsIsOwedAndTheRowStillWritten) {
    cfg.absent_ttl = std::chrono::seconds(60);
    applier().apply(rows_batch({"9"}));
    source.put(9, "late");
    sink.unreachable_keys = {"/articles:absent/9"};
    Outcome out = applier().apply(rows_batch({"9"}));
    EXPECT_TRUE(out.retry.received.count("9"));
    EXPECT_EQ(sink.at("/articles/9"), int_row(9, "late")) << "readers look at the row key first";
    sink.unreachable_keys.clear();
    EXPECT_TRUE(applier().apply(out.retry).done());
    EXPECT_FALSE(sink.has("/articles:absent/9"));
}

TEST_F(ApplierTest, BatchWritesChangedRowsAndTheListAndDeletesAbsentRows) {
    source.put(1, "one");
    source.put(2, "two");
    source.put(3, "three");
    sink.store["/articles/2"] = "not in the batch";
    sink.store["/articles/4"] = "row 4 was deleted";

    Outcome out = applier().apply(rows_batch({"1", "4"}));

    EXPECT_TRUE(out.done());
    EXPECT_FALSE(out.cache_unreachable);
    EXPECT_EQ(sink.at("/articles/1"), int_row(1, "one"));
    EXPECT_FALSE(sink.has("/articles/4"));
    EXPECT_EQ(sink.at("/articles/2"), "not in the batch");
    EXPECT_FALSE(sink.has("/articles/3"));
    EXPECT_EQ(sink.at("/articles"), source.list());
    EXPECT_EQ(sink.at("/articles"), "[" + int_row(1, "one") + ", " + int_row(2, "two") + ", " +
                                        int_row(3, "three") + "]");

    ASSERT_EQ(source.calls.size(), 1u);
    EXPECT_FALSE(source.calls[0].full);
    EXPECT_EQ(sorted(source.calls[0].pks), (std::vector<std::string>{"1", "4"}));

    EXPECT_EQ(metric("revalidator_worker_batches_total"), 1);
    EXPECT_EQ(metric("revalidator_worker_rows_read_total"), 1);
    EXPECT_EQ(metric("revalidator_worker_list_rebuilds_total"), 1);
    // row 1, delete of 4, its absent marker, the list, the list's version
    EXPECT_EQ(metric("revalidator_worker_cache_writes_total"), 5);
    EXPECT_EQ(sink.at("/articles:version"), list_version(sink.at("/articles")));
    EXPECT_EQ(sink.at("/articles:absent/4"), "absent");
    EXPECT_EQ(metric("revalidator_worker_cache_write_errors_total"), 0);
    EXPECT_EQ(metric("revalidator_worker_resyncs_total"), 0);
    EXPECT_EQ(metric("revalidator_worker_batch_rows_count"), 1);
    EXPECT_EQ(metric("revalidator_worker_batch_rows_sum"), 2);
}

// A view: the rows titled "p", newest id first, two at most, written with every batch.
TEST_F(ApplierTest, EveryBatchWritesEachViewFromItsSnapshot) {
    cfg.views = {"/published"};
    source.views.push_back([](const std::map<std::string, std::string>& table) {
        std::vector<Row> rows;
        for (auto it = table.rbegin(); it != table.rend() && rows.size() < 2; ++it) {
            if (it->second.find(R"("title": "p")") != std::string::npos) {
                rows.push_back({it->first, it->second});
            }
        }
        return rows;
    });
    for (int id : {1, 2, 3, 4}) source.put(id, id == 3 ? "draft" : "p");
    ASSERT_TRUE(applier().apply(full_batch()).done());
    EXPECT_EQ(sink.store["/published"], list_text({int_row(4, "p"), int_row(2, "p")}));

    // A row that leaves the filter leaves the view; the next one in order takes its place.
    source.put(4, "draft");
    ASSERT_TRUE(applier().apply(rows_batch({"4"})).done());
    EXPECT_EQ(sink.store["/published"], list_text({int_row(2, "p"), int_row(1, "p")}));

    // A view that cannot be written is owed, like the list.
    sink.refuse.insert("/published");
    source.put(3, "p");
    auto out = applier().apply(rows_batch({"3"}));
    EXPECT_TRUE(out.retry.list);
    EXPECT_EQ(sink.store.count("/published"), 0u) << "a view that was not written is not left";
    sink.refuse.clear();
    ASSERT_TRUE(applier().apply(out.retry).done());
    EXPECT_EQ(sink.store["/published"], list_text({int_row(3, "p"), int_row(2, "p")}));
}

TEST_F(ApplierTest, ChangedRowIsRewritten) {
    source.put(1, "first");
    ASSERT_TRUE(applier().apply(rows_batch({"1"})).done());
    source.put(1, "second");
    ASSERT_TRUE(applier().apply(rows_batch({"1"})).done());
    EXPECT_EQ(sink.at("/articles/1"), int_row(1, "second"));
    EXPECT_EQ(sink.at("/articles"), list_text({int_row(1, "second")}));
}

TEST_F(ApplierTest, ListOnlyBatchRewritesTheList) {
    source.put(1);
    Batch b;
    b.list = true;
    Outcome out = applier().apply(b);
    EXPECT_TRUE(out.done());
    ASSERT_EQ(source.calls.size(), 1u);
    EXPECT_TRUE(source.calls[0].pks.empty());
    EXPECT_FALSE(source.calls[0].full);
    EXPECT_EQ(sink.at("/articles"), list_text({int_row(1)}));
    EXPECT_FALSE(sink.has("/articles/1"));
}

TEST_F(ApplierTest, EmptyTableGivesAnEmptyList) {
    sink.store["/articles/1"] = "old";
    EXPECT_TRUE(applier().apply(rows_batch({"1"})).done());
    EXPECT_EQ(sink.at("/articles"), "[]");
    EXPECT_FALSE(sink.has("/articles/1"));
}

TEST_F(ApplierTest, ConfiguredPrefixIsUsed) {
    cfg.prefix = "/v2/posts";
    source.put(5);
    EXPECT_TRUE(applier().apply(rows_batch({"5"})).done());
    EXPECT_EQ(sink.at("/v2/posts/5"), int_row(5));
    EXPECT_EQ(sink.at("/v2/posts"), source.list());
    EXPECT_FALSE(sink.has("/articles"));
}

TEST_F(ApplierTest, FullResyncWritesAllRowsAndDeletesRowsNoLongerPresent) {
    source.put(1, "one");
    source.put(2, "two");
    source.put(3, "three");
    // What an earlier run left in the cache: row 9 has since been deleted in Postgres.
    sink.store["/articles"] = list_text({int_row(1, "old"), int_row(2, "old"), int_row(9)});
    sink.store["/articles/1"] = int_row(1, "old");
    sink.store["/articles/9"] = int_row(9);

    Outcome out = applier().apply(full_batch("start"));

    EXPECT_TRUE(out.done());
    EXPECT_EQ(sink.at("/articles/1"), int_row(1, "one"));
    EXPECT_EQ(sink.at("/articles/2"), int_row(2, "two"));
    EXPECT_EQ(sink.at("/articles/3"), int_row(3, "three"));
    EXPECT_FALSE(sink.has("/articles/9"));
    EXPECT_EQ(sink.at("/articles"), source.list());
    ASSERT_EQ(source.calls.size(), 1u);
    EXPECT_TRUE(source.calls[0].full);
    EXPECT_EQ(metric("revalidator_worker_stale_keys_deleted_total"), 1);
    EXPECT_EQ(metric("revalidator_worker_resyncs_total"), 1);
    EXPECT_EQ(metric("revalidator_worker_rows_read_total"), 3);
    EXPECT_EQ(sink.store.size(), 5u);  // three rows, the list and its version, nothing else
}

// A source that notes, as it hands over each run of a full read, how many sets the cache had.
class RunNotingSource : public FakeSource {
  public:
    explicit RunNotingSource(const FakeSink& sink) : sink_(sink) {}
    std::vector<int> sets_at_run;

    Snapshot read_full(std::size_t run_rows, const RowRun& run) override {
        return FakeSource::read_full(run_rows, [&](std::vector<Row>& rows, KeyOrder order) {
            sets_at_run.push_back(sink_.sets);
            run(rows, order);
        });
    }

  private:
    const FakeSink& sink_;
};

TEST_F(ApplierTest, AFullResyncWritesEachRunsKeysAsItComesAndTheListAfterTheLast) {
    RunNotingSource runs(sink);
    runs.key_order = KeyOrder::Integer;
    for (int i = 1; i <= 5; ++i) runs.put(i);
    Applier applier(runs, sink, cfg, registry);
    ASSERT_TRUE(applier.apply(full_batch()).done());

    // Runs of two rows: each run's keys are in the cache before the next run is read.
    EXPECT_EQ(runs.sets_at_run, (std::vector<int>{0, 2, 4}));
    const auto list_at = std::find(sink.ops.begin(), sink.ops.end(), "set /articles");
    ASSERT_NE(list_at, sink.ops.end());
    for (int i = 1; i <= 5; ++i) {
        const auto row_at =
            std::find(sink.ops.begin(), sink.ops.end(), "set /articles/" + std::to_string(i));
        EXPECT_LT(row_at, list_at) << i;
    }
    EXPECT_EQ(sink.at("/articles"), runs.list());
    EXPECT_EQ(metric("revalidator_worker_rows_read_total"), 5);
}

TEST_F(ApplierTest, AResyncFencedHalfWayKeepsWhatItKnewAndNeverWritesHalfAList) {
    source.key_order = KeyOrder::Integer;
    for (int i = 1; i <= 6; ++i) source.put(i);
    ASSERT_TRUE(applier().apply(full_batch()).done());
    source.table.erase("6");  // deleted while no webhook says so
    source.put(2, "new");

    sink.writes_before_fence = 3;  // the second run's writes are fenced off
    EXPECT_THROW(applier().apply(full_batch()), Fenced);
    sink.writes_before_fence = -1;
    EXPECT_EQ(sink.at("/articles"),
              list_text({int_row(1), int_row(2), int_row(3), int_row(4), int_row(5), int_row(6)}));

    // What the half resync placed is not the table: the next batch reads the whole list.
    ASSERT_TRUE(applier().apply(rows_batch({"1"})).done());
    EXPECT_EQ(sink.at("/articles"), source.list());
    // And the keys known cached before it are still known: the next resync deletes row 6's.
    ASSERT_TRUE(applier().apply(full_batch()).done());
    EXPECT_FALSE(sink.has("/articles/6"));
    EXPECT_EQ(sink.at("/articles"), source.list());
}

// The same, retried as a resync straight away (the loop retries a failed resync as one): the
// retry starts the list over, so no row the abandoned one placed is listed twice, in key order
// or in any other.
TEST_F(ApplierTest, AResyncRetriedAfterOneAbandonedHalfWayListsEachRowOnce) {
    for (KeyOrder order : {KeyOrder::None, KeyOrder::Integer}) {
        FakeSource table;
        FakeSink cache;
        table.key_order = order;
        for (int i = 1; i <= 6; ++i) table.put(i);
        Applier applier(table, cache, cfg, registry);
        cache.writes_before_fence = 3;  // the second run's writes are fenced off
        EXPECT_THROW(applier.apply(full_batch()), Fenced);
        cache.writes_before_fence = -1;
        table.table.erase("2");
        ASSERT_TRUE(applier.apply(full_batch()).done());
        EXPECT_EQ(cache.at("/articles"), table.list())
            << (order == KeyOrder::None ? "flat" : "by key");
    }
}

TEST_F(ApplierTest, WithoutAListRowsAndViewsAreWrittenAndAnEarlierListDeleted) {
    cfg.list = false;
    cfg.views = {"/featured"};
    source.views.push_back([](const std::map<std::string, std::string>& table) {
        std::vector<Row> rows;
        for (const auto& [pk, json] : table) {
            if (pk != "2") rows.push_back({pk, json});
        }
        return rows;
    });
    for (int i = 1; i <= 3; ++i) source.put(i);
    // An earlier configuration's list, in parts behind a manifest, and its version.
    sink.store["/articles"] =
        R"({"bytes":4,"chunked":true,"parts":["/articles:part:1:0","/articles:part:2:0"]})";
    sink.store["/articles:version"] = "0123456789abcdef0123456789abcdef";
    sink.store["/articles:part:1:0"] = "[{}";
    sink.store["/articles:part:2:0"] = "]";

    ASSERT_TRUE(applier().apply(full_batch()).done());
    for (int i = 1; i <= 3; ++i) {
        EXPECT_EQ(sink.at("/articles/" + std::to_string(i)), int_row(i)) << i;
    }
    for (const char* key :
         {"/articles", "/articles:version", "/articles:part:1:0", "/articles:part:2:0"}) {
        EXPECT_EQ(sink.at(key), "<absent>") << key;
    }
    EXPECT_EQ(sink.at("/featured"), list_text({int_row(1), int_row(3)}));
    EXPECT_FALSE(applier().list().in_cache());
    EXPECT_EQ(applier().list().segment_count(), 0u);

    // A batch reads the rows it names, never the whole table for a list.
    source.put(2, "new");
    source.table.erase("3");
    ASSERT_TRUE(applier().apply(rows_batch({"2", "3"})).done());
    EXPECT_EQ(source.calls.back().list, ListRows::Changes);
    EXPECT_EQ(sink.at("/articles/2"), int_row(2, "new"));
    EXPECT_EQ(sink.at("/articles/3"), "<absent>");
    EXPECT_EQ(sink.at("/articles"), "<absent>");
    EXPECT_EQ(sink.at("/featured"), list_text({int_row(1)}));
    EXPECT_EQ(metric("revalidator_worker_list_rebuilds_total"), 2);  // the view's, not a list's
}

TEST_F(ApplierTest, FullResyncLearnsStringIdsFromTheCachedList) {
    source.table["a"] = row_json("\"a\"", "x");
    sink.store["/articles"] = list_text({row_json("\"a\"", "x"), row_json("\"gone-1\"", "y")});
    sink.store["/articles/gone-1"] = row_json("\"gone-1\"", "y");
    EXPECT_TRUE(applier().apply(full_batch()).done());
    EXPECT_FALSE(sink.has("/articles/gone-1"));
    EXPECT_EQ(sink.at("/articles/a"), row_json("\"a\"", "x"));
}

TEST_F(ApplierTest, FullResyncLearnsRowsFromACachedListInPartsEvenARowCutInTwo) {
    source.put(1);
    // An earlier run's chunked list: row 8 is cut in the middle of a string holding what would
    // end an object or a string, and rows 8 and 9 have since been deleted.
    const std::string eight = R"({"id": 8, "title": "a } and a \" and ]"})";
    const std::string list = list_text({int_row(1), eight, int_row(9)});
    const auto cut = list.find("and a");
    sink.store["/articles"] =
        R"({"bytes":)" + std::to_string(list.size()) +
        R"(,"chunked":true,"parts":["/articles:part:1:0","/articles:part:1:1"]})";
    sink.store["/articles:part:1:0"] = list.substr(0, cut);
    sink.store["/articles:part:1:1"] = list.substr(cut);
    sink.store["/articles/8"] = eight;
    sink.store["/articles/9"] = int_row(9);

    ASSERT_TRUE(applier().apply(full_batch()).done());
    EXPECT_EQ(sink.at("/articles/8"), "<absent>");
    EXPECT_EQ(sink.at("/articles/9"), "<absent>");
    EXPECT_EQ(sink.at("/articles/1"), int_row(1));
    EXPECT_EQ(metric("revalidator_worker_stale_keys_deleted_total"), 2);
}

TEST_F(ApplierTest, FullResyncUsesTheConfiguredPrimaryKey) {
    cfg.primary_key = "slug";
    source.table["keep"] = R"({"slug": "keep"})";
    sink.store["/articles"] = R"([{"id": 1, "slug": "keep"}, {"id": 2, "slug": "drop"}])";
    sink.store["/articles/drop"] = "x";
    sink.store["/articles/2"] = "a key under the wrong column, not ours to delete";
    EXPECT_TRUE(applier().apply(full_batch()).done());
    EXPECT_FALSE(sink.has("/articles/drop"));
    EXPECT_TRUE(sink.has("/articles/2"));
    EXPECT_TRUE(sink.has("/articles/keep"));
}

TEST_F(ApplierTest, FullResyncToleratesAnUnparsableCachedList) {
    source.put(1);
    sink.store["/articles"] = "this is not json";
    EXPECT_TRUE(applier().apply(full_batch()).done());
    EXPECT_EQ(sink.at("/articles"), source.list());
    EXPECT_EQ(sink.at("/articles/1"), int_row(1));
}

// Ids a text primary key can hold but a Memcached key cannot: an injected command, a space, over
// 250 bytes, empty, a control character, and one byte over the 200 the ingress accepts.
const std::vector<std::string> kUnkeyable = {"a\r\nset x 0 0 1\r\nX", "a b",
                                             std::string(300, 'x'),   "",
                                             "ctl\x01char",           std::string(201, 'y')};

std::string text_row(const std::string& id, const std::string& title = "t") {
    return row_json(nlohmann::json(id).dump(), title);
}

TEST_F(ApplierTest, FullResyncSkipsRowsWhoseIdCannotBeAKey) {
    source.table["ok"] = text_row("ok", "fine");
    for (const auto& id : kUnkeyable) source.table[id] = text_row(id, "hostile");

    Outcome out = applier().apply(full_batch());

    EXPECT_TRUE(out.done()) << "a row without a key is not owed: retrying cannot give it one";
    EXPECT_FALSE(out.cache_unreachable);
    EXPECT_EQ(sink.at("/articles/ok"), text_row("ok", "fine"));
    EXPECT_EQ(sink.at("/articles"), source.list()) << "the list is the table, every row in it";
    EXPECT_EQ(sink.store.size(), 3u) << "the row, the list and its version";
    EXPECT_EQ(metric("revalidator_worker_rows_unkeyable_total"), kUnkeyable.size());
    EXPECT_EQ(metric("revalidator_worker_cache_write_errors_total"), 0);

    // Never cached, so never deleted either when the rows go away.
    for (const auto& id : kUnkeyable) source.table.erase(id);
    EXPECT_TRUE(applier().apply(full_batch()).done());
    EXPECT_EQ(sink.at("/articles"), source.list());
    EXPECT_EQ(metric("revalidator_worker_stale_keys_deleted_total"), 0);
}

TEST_F(ApplierTest, BatchSkipsARowWhoseIdCannotBeAKey) {
    // The walls at the door keep such ids out of events; Postgres answering with one is the
    // last case left.
    source.table["a b"] = text_row("a b");
    source.table["ok"] = text_row("ok");
    Outcome out = applier().apply(rows_batch({"a b", "ok"}));
    EXPECT_TRUE(out.done());
    EXPECT_EQ(sink.at("/articles/ok"), text_row("ok"));
    EXPECT_EQ(sink.at("/articles"), source.list());
    EXPECT_EQ(metric("revalidator_worker_rows_unkeyable_total"), 1);
}

TEST_F(ApplierTest, IdsLearnedFromTheCachedListAreCheckedBeforeUse) {
    source.table["ok"] = text_row("ok");
    std::vector<std::string> earlier{text_row("ok"), text_row("gone")};
    for (const auto& id : kUnkeyable) earlier.push_back(text_row(id));
    sink.store["/articles"] = list_text(earlier);
    sink.store["/articles/gone"] = text_row("gone");

    EXPECT_TRUE(applier().apply(full_batch("start")).done());

    EXPECT_FALSE(sink.has("/articles/gone"));
    EXPECT_EQ(sink.at("/articles"), source.list());
    EXPECT_EQ(metric("revalidator_worker_stale_keys_deleted_total"), 1);
}

TEST_F(ApplierTest, PartKeysReadFromACachedManifestAreCheckedBeforeUse) {
    source.table["ok"] = text_row("ok");
    sink.store["/articles:part:5:1"] = "]";
    nlohmann::json parts = {"/articles:part:5:0\r\nset x 0 0 1\r\nX", "/articles:part:5:0 x",
                            "/articles:part:" + std::string(250, '5'), "/articles:part:5:1"};
    sink.store["/articles"] =
        nlohmann::json{{"chunked", true}, {"bytes", 2}, {"parts", parts}}.dump();

    EXPECT_TRUE(applier().apply(full_batch("start")).done());

    EXPECT_EQ(sink.at("/articles"), source.list());
    EXPECT_EQ(sink.at("/articles/ok"), text_row("ok"));
    EXPECT_FALSE(sink.store.count("/articles:part:5:1")) << "a valid part of ours is still adopted";
}

// What the Postgres adapter does for an integer key: "007" and "+7" are row 7.
std::optional<std::string> as_bigint(const std::string& pk) {
    return sql::canonical(sql::KeyKind::Int64, pk);
}

TEST_F(ApplierTest, IntegerIdsInAnotherSpellingNameTheirRowByValue) {
    source.canonical = as_bigint;
    source.put(7, "seven");

    Outcome out = applier().apply(rows_batch({"007", "+7", "7.0"}));

    EXPECT_TRUE(out.done());
    EXPECT_EQ(sink.at("/articles/7"), int_row(7, "seven"));
    EXPECT_EQ(sink.at("/articles"), source.list());
    EXPECT_EQ(sink.sets, 4)
        << "row 7 once, the list and its version, and the marker of 7.0, which no row has";
    EXPECT_EQ(sink.at("/articles:absent/7.0"), "absent");
    for (const char* key : {"/articles/007", "/articles/+7", "/articles/7.0"}) {
        EXPECT_FALSE(sink.store.count(key)) << key;
    }

    // Row 7 goes; a delete naming it "007" removes its key.
    source.table.erase("7");
    out = applier().apply(rows_batch({"007"}));
    EXPECT_TRUE(out.done());
    EXPECT_FALSE(sink.store.count("/articles/7"));
    EXPECT_EQ(sink.at("/articles"), "[]");
}

TEST_F(ApplierTest, AWriteOwedForAnIdInAnotherSpellingIsRetriedAsItsRow) {
    source.canonical = as_bigint;
    source.put(7);
    sink.refuse.insert("/articles/7");
    Batch b = rows_batch({"007", "7"}, 42);
    b.received["7"] = 40;

    Outcome out = applier().apply(b);

    EXPECT_EQ(keys_of(out.retry.received), std::vector<std::string>{"7"});
    EXPECT_EQ(out.retry.received.at("7"), 40u) << "the earliest of the two";
    EXPECT_EQ(out.retry.pks, std::vector<std::string>{"7"});
}

TEST_F(ApplierTest, ResyncDeletesRowsThatEarlierBatchesWrote) {
    source.put(5);
    ASSERT_TRUE(applier().apply(rows_batch({"5"})).done());
    ASSERT_TRUE(sink.has("/articles/5"));
    // The row goes away and its webhook is lost; the list item is evicted as well, so only the
    // applier's own memory knows that /articles/5 is cached.
    source.table.erase("5");
    sink.store.erase("/articles");

    EXPECT_TRUE(applier().apply(full_batch()).done());
    EXPECT_FALSE(sink.has("/articles/5"));
    EXPECT_EQ(sink.at("/articles"), "[]");
}

TEST_F(ApplierTest, SecondResyncDeletesRowsThatTheFirstWrote) {
    source.put(1);
    source.put(2);
    ASSERT_TRUE(applier().apply(full_batch()).done());
    source.table.erase("2");
    ASSERT_TRUE(applier().apply(full_batch()).done());
    EXPECT_FALSE(sink.has("/articles/2"));
    EXPECT_TRUE(sink.has("/articles/1"));
    EXPECT_EQ(metric("revalidator_worker_resyncs_total"), 2);
    EXPECT_EQ(metric("revalidator_worker_stale_keys_deleted_total"), 1);
}

TEST_F(ApplierTest, RefusedSetDeletesTheKeyAndComesBackForRetry) {
    source.put(1, "small");
    source.put(2, std::string(5000, 'x'));
    sink.store["/articles/2"] = int_row(2, "older version");
    sink.refuse = {"/articles/2"};

    Batch b;
    b.pks = {"1", "2"};
    b.received = {{"1", 100}, {"2", 200}};
    Outcome out = applier().apply(b);

    EXPECT_FALSE(out.done());
    EXPECT_FALSE(out.cache_unreachable);
    EXPECT_FALSE(out.retry.full);
    EXPECT_FALSE(out.retry.list);
    EXPECT_FALSE(sink.has("/articles/2"));  // no stale value left behind
    EXPECT_EQ(sink.at("/articles/1"), int_row(1, "small"));
    EXPECT_EQ(sink.at("/articles"), source.list());
    EXPECT_EQ(out.retry.pks, (std::vector<std::string>{"2"}));
    ASSERT_EQ(out.retry.received.size(), 1u);
    EXPECT_EQ(out.retry.received.at("2"), 200u);  // the original receive time is kept
    EXPECT_EQ(metric("revalidator_worker_cache_write_errors_total"), 1);

    // Once the cache takes the value, the retry completes.
    sink.refuse.clear();
    Outcome again = applier().apply(out.retry);
    EXPECT_TRUE(again.done());
    EXPECT_EQ(sink.at("/articles/2"), int_row(2, std::string(5000, 'x')));
}

TEST_F(ApplierTest, RefusedRowInAFullResyncComesBackForRetry) {
    source.put(1);
    source.put(2);
    sink.refuse = {"/articles/1"};
    sink.store["/articles/1"] = "stale";
    std::uint64_t before = unix_micros();
    Outcome out = applier().apply(full_batch());
    EXPECT_FALSE(out.done());
    EXPECT_FALSE(out.retry.full);
    EXPECT_FALSE(sink.has("/articles/1"));
    EXPECT_EQ(sink.at("/articles/2"), int_row(2));
    EXPECT_EQ(out.retry.pks, (std::vector<std::string>{"1"}));
    EXPECT_GE(out.retry.received.at("1"), before);
}

TEST_F(ApplierTest, UnreachableCacheAsksForAFullRetry) {
    source.put(1);
    source.put(2);
    sink.unreachable = true;

    Outcome out = applier().apply(rows_batch({"1", "2", "3"}, 77));

    EXPECT_TRUE(out.cache_unreachable);
    EXPECT_FALSE(out.done());
    EXPECT_TRUE(out.retry.full);
    EXPECT_EQ(out.retry.reason, "cache unreachable");
    EXPECT_TRUE(out.retry.list);
    EXPECT_EQ(keys_of(out.retry.received), (std::vector<std::string>{"1", "2", "3"}));
    EXPECT_EQ(sorted(out.retry.pks), (std::vector<std::string>{"1", "2", "3"}));
    EXPECT_EQ(out.retry.received.at("2"), 77u);
    EXPECT_TRUE(sink.store.empty());

    sink.unreachable = false;
    Outcome again = applier().apply(out.retry);
    EXPECT_TRUE(again.done());
    EXPECT_EQ(sink.at("/articles/1"), int_row(1));
    EXPECT_EQ(sink.at("/articles/2"), int_row(2));
    EXPECT_EQ(sink.at("/articles"), source.list());
}

// The part keys a manifest names, in order.
std::vector<std::string> manifest_keys(const std::string& head) {
    std::vector<std::string> keys;
    const auto manifest = nlohmann::json::parse(head);
    for (const auto& k : manifest.at("parts")) keys.push_back(k.get<std::string>());
    return keys;
}

TEST_F(ApplierTest, ListTooLargeForOneItemIsWrittenAsPartsAndAManifest) {
    cfg.max_item_bytes = 100;
    // The cache refuses anything larger, as Memcached does; the manifest (~40 bytes a part) gets
    // room a real limit has.
    sink.max_value_bytes = 300;
    for (int i = 1; i <= 10; ++i) source.put(i, "title-" + std::to_string(i));
    const std::string list = source.list();
    ASSERT_GT(list.size(), 300u);

    ASSERT_TRUE(applier().apply(full_batch()).done());

    const std::string head = sink.at("/articles");
    ASSERT_EQ(head.front(), '{') << head;
    auto manifest = nlohmann::json::parse(head);
    EXPECT_EQ(manifest.at("chunked"), true);
    EXPECT_EQ(manifest.at("bytes"), list.size());
    const auto keys = manifest_keys(head);
    EXPECT_EQ(keys.size(), (list.size() + 99) / 100);  // one segment, split at the limit
    for (const auto& k : keys) {
        EXPECT_EQ(k.rfind("/articles:part:", 0), 0u) << k;
        EXPECT_LE(sink.at(k).size(), 100u) << k;
    }
    EXPECT_EQ(sink.part_keys("/articles"), sorted(keys));
    EXPECT_EQ(sink.read_list("/articles"), list);
    EXPECT_EQ(metric("revalidator_worker_cache_write_errors_total"), 0);
    EXPECT_EQ(metric("revalidator_worker_list_parts_written_total"), keys.size());

    // The next list is written under new keys; the old ones are deleted once the head moved on.
    source.put(11, "title-11");
    ASSERT_TRUE(applier().apply(rows_batch({"11"})).done());
    const auto keys2 = manifest_keys(sink.at("/articles"));
    EXPECT_EQ(sink.read_list("/articles"), source.list());
    EXPECT_EQ(sink.part_keys("/articles"), sorted(keys2));
    for (const auto& k : keys2) {
        EXPECT_TRUE(std::find(keys.begin(), keys.end(), k) == keys.end()) << k;
    }

    // Back to a list that fits: the head is the list and no parts remain.
    source.table = {{"1", int_row(1)}};
    ASSERT_TRUE(applier().apply(rows_batch({"2"})).done());
    EXPECT_EQ(sink.at("/articles"), list_text({int_row(1)}));
    EXPECT_TRUE(sink.part_keys("/articles").empty());
}

TEST_F(ApplierTest, FreshApplierCleansUpTheChunkedListOfAnEarlierRun) {
    // Rows of 33 bytes in segments filled to 75: two rows a segment, one part each.
    cfg.max_item_bytes = 100;
    sink.max_value_bytes = 300;
    source.key_order = KeyOrder::Integer;
    for (int i = 10; i <= 19; ++i) source.put(i, "title-" + std::to_string(i));
    {
        metrics::Registry earlier_registry;
        Applier earlier(source, sink, cfg, earlier_registry);
        ASSERT_TRUE(earlier.apply(full_batch()).done());
    }
    const auto old_keys = manifest_keys(sink.at("/articles"));
    ASSERT_EQ(old_keys.size(), 5u);
    source.table.erase("18");

    // Even the segments that did not change are written anew: this process cannot know which
    // of the earlier run's parts hold what.
    ASSERT_TRUE(applier().apply(full_batch("start")).done());

    EXPECT_FALSE(sink.has("/articles/18"));  // learned from the earlier run's chunked list
    EXPECT_EQ(sink.read_list("/articles"), source.list());
    const auto keys = manifest_keys(sink.at("/articles"));
    for (const auto& k : old_keys) EXPECT_FALSE(sink.store.count(k)) << k;
    EXPECT_EQ(sink.part_keys("/articles"), sorted(keys));
}

TEST_F(ApplierTest, FreshApplierDeletesOnlyItsOwnPartsOfAnEarlierManifest) {
    cfg.max_item_bytes = 100;
    source.put(1);
    sink.store["/articles:part:5:0"] = "[" + int_row(1) + ", ";
    sink.store["/articles:part:5:1"] = int_row(2) + "]";
    sink.store["/shared:blob"] = "";  // named, but not under this prefix: not ours to delete
    sink.store["/articles/2"] = int_row(2);
    sink.store["/articles"] =
        R"({"chunked":true,"bytes":1,"parts":["/articles:part:5:0","/shared:blob","/articles:part:5:1"]})";

    ASSERT_TRUE(applier().apply(full_batch("start")).done());

    EXPECT_EQ(sink.at("/articles"), source.list());
    EXPECT_FALSE(sink.store.count("/articles:part:5:0"));
    EXPECT_FALSE(sink.store.count("/articles:part:5:1"));
    EXPECT_TRUE(sink.store.count("/shared:blob"));
    EXPECT_FALSE(sink.store.count("/articles/2"));  // the earlier list named row 2
}

class ChunkedListTest : public ApplierTest {
  protected:
    // Four segments of three rows (~100 bytes each: segments are filled to 120 bytes), a list of
    // ~400 bytes over a 160-byte limit: one part per segment. Every batch checks the parts it
    // reuses (--part-recheck-ms 0), unless a test says otherwise.
    void SetUp() override {
        cfg.max_item_bytes = 160;
        cfg.part_recheck = std::chrono::milliseconds(0);
        sink.max_value_bytes = 300;  // room for the manifest
        source.key_order = KeyOrder::Integer;
        // Two-digit ids: the fake orders pks as text.
        for (int i = 10; i <= 21; ++i) source.put(i, "title-" + std::to_string(100 + i));
        ASSERT_GT(source.list().size(), 160u);
        ASSERT_TRUE(applier().apply(full_batch()).done());
        keys = manifest_keys(sink.at("/articles"));
        ASSERT_EQ(keys.size(), 4u);
        for (const auto& k : keys) ASSERT_LE(sink.at(k).size(), 200u) << k;
        ASSERT_EQ(sink.read_list("/articles"), source.list());
        ASSERT_EQ(parts_written(), 4);
    }

    double parts_written() const { return metric("revalidator_worker_list_parts_written_total"); }

    std::vector<std::string> keys;  // the first list's parts
};

TEST_F(ChunkedListTest, ABatchWritesOnlyThePartOfTheSegmentItChanged) {
    const int sets = sink.sets, touches = sink.touches, removes = sink.removes;
    source.put(14, "changed");
    ASSERT_TRUE(applier().apply(rows_batch({"14"})).done());

    EXPECT_EQ(parts_written(), 4 + 1);
    EXPECT_EQ(sink.sets - sets, 4);  // row 14, the part of its segment, the manifest, its version
    EXPECT_EQ(sink.touches - touches, 3);  // the three parts reused were checked first
    EXPECT_EQ(sink.removes - removes, 1);  // the part replaced
    const auto now = manifest_keys(sink.at("/articles"));
    ASSERT_EQ(now.size(), 4u);
    EXPECT_EQ(now[0], keys[0]);
    EXPECT_NE(now[1], keys[1]);
    EXPECT_EQ(now[2], keys[2]);
    EXPECT_EQ(now[3], keys[3]);
    EXPECT_FALSE(sink.store.count(keys[1]));
    EXPECT_EQ(sink.part_keys("/articles"), sorted(now));
    EXPECT_EQ(sink.read_list("/articles"), source.list());
    EXPECT_EQ(metric("revalidator_worker_list_rebuilds_total"), 2);

    // A batch that changes no row of the list writes no part at all.
    ASSERT_TRUE(applier().apply(rows_batch({"99"})).done());
    EXPECT_EQ(parts_written(), 5);
    EXPECT_EQ(manifest_keys(sink.at("/articles")), now);
}

TEST_F(ChunkedListTest, APartEvictedFromTheCacheIsWrittenAgain) {
    sink.store.erase(keys[0]);
    source.put(20, "changed");
    ASSERT_TRUE(applier().apply(rows_batch({"20"})).done());

    EXPECT_EQ(parts_written(), 4 + 2);  // the segment changed and the one evicted
    auto now = manifest_keys(sink.at("/articles"));
    ASSERT_EQ(now.size(), 4u);
    EXPECT_NE(now[0], keys[0]);
    EXPECT_EQ(now[1], keys[1]);
    EXPECT_EQ(now[2], keys[2]);
    EXPECT_NE(now[3], keys[3]);
    EXPECT_EQ(sink.read_list("/articles"), source.list());
    EXPECT_EQ(sink.part_keys("/articles"), sorted(now));

    // Also when nothing changed: a list-only batch puts the evicted part back.
    sink.store.erase(now[2]);
    Batch list_only;
    list_only.list = true;
    ASSERT_TRUE(applier().apply(list_only).done());
    EXPECT_EQ(parts_written(), 4 + 2 + 1);
    EXPECT_EQ(sink.read_list("/articles"), source.list());
    EXPECT_EQ(sink.part_keys("/articles"), sorted(manifest_keys(sink.at("/articles"))));
}

// A part written or found in the cache is trusted for --part-recheck-ms: batches within it send no
// touch at all; the first batch after it checks again, and finds an evicted part.
TEST_F(ChunkedListTest, APartKnownToBeCachedIsCheckedAgainOnlyAfterTheRecheckInterval) {
    cfg.part_recheck = std::chrono::hours(1);
    metrics::Registry own, own_too;
    Applier trusting(source, sink, cfg, own);
    ASSERT_TRUE(trusting.apply(full_batch()).done());  // every part written: known to be there
    const int touches = sink.touches;
    for (const char* title : {"a", "b", "c"}) {
        source.put(14, title);
        ASSERT_TRUE(trusting.apply(rows_batch({"14"})).done());
    }
    EXPECT_EQ(sink.touches, touches);
    EXPECT_EQ(sink.read_list("/articles"), source.list());

    cfg.part_recheck = std::chrono::milliseconds(1);
    Applier checking(source, sink, cfg, own_too);
    ASSERT_TRUE(checking.apply(full_batch()).done());
    const auto parts = manifest_keys(sink.at("/articles"));
    sink.store.erase(parts[3]);                                 // evicted
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the interval passes
    source.put(11, "changed");
    ASSERT_TRUE(checking.apply(rows_batch({"11"})).done());
    EXPECT_EQ(sink.read_list("/articles"), source.list()) << "the evicted part was written again";
    EXPECT_EQ(sink.part_keys("/articles"), sorted(manifest_keys(sink.at("/articles"))));
}

TEST_F(ChunkedListTest, AFailedListWriteKeepsThePartsForTheRetry) {
    sink.refuse = {"/articles"};  // the manifest cannot be written
    source.put(14, "changed");
    Outcome out = applier().apply(rows_batch({"14"}));
    ASSERT_TRUE(out.retry.list);
    EXPECT_FALSE(sink.has("/articles"));  // no head pointing at an older list
    // The new part is gone again; the parts of the last list stay, to be reused.
    EXPECT_EQ(sink.part_keys("/articles"), sorted(keys));

    sink.refuse.clear();
    ASSERT_TRUE(applier().apply(out.retry).done());
    EXPECT_EQ(parts_written(), 4 + 1);  // the failed write's part is not counted
    EXPECT_EQ(sink.read_list("/articles"), source.list());
    const auto now = manifest_keys(sink.at("/articles"));
    EXPECT_EQ(now[0], keys[0]);
    EXPECT_EQ(now[2], keys[2]);
    EXPECT_EQ(sink.part_keys("/articles"), sorted(now));
}

// After a cache outage the applier reads its own manifest back (to learn which rows are cached)
// and adopts the parts it names. The resync re-renders every segment (list/segments.hpp), so it
// writes every part anew; the adopted ones, its own, go once the new list is written.
TEST_F(ChunkedListTest, AResyncAfterAnOutageReplacesThePartsItAdopted) {
    source.put(14, "changed");
    sink.unreachable_keys = {"/articles/14"};
    Outcome out = applier().apply(rows_batch({"14"}));
    ASSERT_TRUE(out.retry.full);
    const auto now = manifest_keys(sink.at("/articles"));

    sink.unreachable_keys.clear();
    ASSERT_TRUE(applier().apply(out.retry).done());
    const auto after = manifest_keys(sink.at("/articles"));
    for (const auto& k : after) EXPECT_TRUE(sink.store.count(k)) << k;
    for (const auto& k : now) EXPECT_FALSE(sink.store.count(k)) << k;
    EXPECT_EQ(sink.part_keys("/articles"), sorted(after));
    EXPECT_EQ(sink.read_list("/articles"), source.list());
    EXPECT_EQ(sink.at("/articles/14"), int_row(14, "changed"));
}

TEST_F(ApplierTest, ListThatCannotBeWrittenLeavesNoOldListBehind) {
    cfg.max_item_bytes = 100;
    sink.max_value_bytes = 50;  // even the parts are refused
    for (int i = 1; i <= 10; ++i) source.put(i);
    sink.store["/articles"] = list_text({int_row(1)});

    Outcome out = applier().apply(rows_batch({"2"}));

    EXPECT_FALSE(sink.has("/articles"));
    EXPECT_TRUE(out.retry.list);
    EXPECT_FALSE(out.cache_unreachable);
    EXPECT_FALSE(out.done());
    EXPECT_TRUE(sink.part_keys("/articles").empty());
    EXPECT_EQ(metric("revalidator_worker_list_rebuilds_total"), 0);
}

TEST_F(ApplierTest, SingleItemListRefusedIsDeletedAndRetried) {
    for (int i = 1; i <= 5; ++i) source.put(i);
    sink.refuse = {"/articles"};
    sink.store["/articles"] = "[]";
    Outcome out = applier().apply(rows_batch({"1"}));
    EXPECT_FALSE(sink.has("/articles"));
    EXPECT_TRUE(out.retry.list);
    EXPECT_TRUE(sink.has("/articles/1"));

    sink.refuse.clear();
    EXPECT_TRUE(applier().apply(out.retry).done());
    EXPECT_EQ(sink.at("/articles"), source.list());
}

TEST_F(ApplierTest, ThrowingSourcePropagatesAndTouchesNothing) {
    source.put(1);
    sink.store["/articles/1"] = "old";
    source.fail = true;
    EXPECT_THROW(applier().apply(rows_batch({"1"})), std::runtime_error);
    EXPECT_THROW(applier().apply(full_batch()), std::runtime_error);
    EXPECT_EQ(sink.sets, 0);
    EXPECT_EQ(sink.removes, 0);
    EXPECT_EQ(sink.at("/articles/1"), "old");

    source.fail = false;
    EXPECT_TRUE(applier().apply(rows_batch({"1"})).done());
    EXPECT_EQ(sink.at("/articles/1"), int_row(1));
}

TEST_F(ApplierTest, StalenessIsObservedForWrittenRowsOnly) {
    source.put(1);
    source.put(2);
    sink.refuse = {"/articles/2"};
    std::uint64_t a_second_ago = unix_micros() - 1'000'000;
    applier().apply(rows_batch({"1", "2"}, a_second_ago));
    EXPECT_EQ(metric("revalidator_worker_staleness_seconds_count"), 1);
    EXPECT_GE(metric("revalidator_worker_staleness_seconds_sum"), 1.0);
}

TEST_F(ApplierTest, CacheRestartIsReportedOnceWhenTheInstanceChanges) {
    EXPECT_FALSE(applier().cache_restarted());  // the sink cannot tell
    sink.instance_id = "pid-1";
    EXPECT_FALSE(applier().cache_restarted());  // first sight is not a restart
    EXPECT_FALSE(applier().cache_restarted());
    sink.unreachable = true;
    EXPECT_FALSE(applier().cache_restarted());  // no answer says nothing
    sink.unreachable = false;
    EXPECT_FALSE(applier().cache_restarted());
    sink.instance_id = "pid-2";
    EXPECT_TRUE(applier().cache_restarted());
    EXPECT_FALSE(applier().cache_restarted());  // reported once
}

TEST_F(ApplierTest, ResyncDuringACacheOutageStillDeletesVanishedRowsLater) {
    source.put(1);
    sink.store["/articles"] = list_text({int_row(1), int_row(9)});
    sink.store["/articles/9"] = int_row(9);
    sink.unreachable = true;
    Outcome out = applier().apply(full_batch("start"));
    ASSERT_TRUE(out.retry.full);

    sink.unreachable = false;
    EXPECT_TRUE(applier().apply(out.retry).done());
    EXPECT_FALSE(sink.has("/articles/9"));
}

TEST_F(ApplierTest, ResyncRetryDeletesAStaleKeyItFailedToDelete) {
    source.put(1);
    sink.store["/articles"] = list_text({int_row(1), int_row(9)});
    sink.store["/articles/9"] = int_row(9);
    sink.unreachable_keys = {"/articles/1", "/articles/9"};
    Outcome out = applier().apply(full_batch("start"));
    ASSERT_TRUE(out.retry.full);
    ASSERT_TRUE(out.retry.received.count("9"));

    sink.unreachable_keys.clear();
    EXPECT_TRUE(applier().apply(out.retry).done());
    EXPECT_FALSE(sink.has("/articles/9"));
}

}  // namespace
}  // namespace revalidator::worker
