// Verify (worker/verify.hpp) on the fakes: a true cache is equal; wrong, missing and unreadable
// keys and a wrong list are found and named; rows without a key are counted, not compared; a
// difference that a writer fixes before the second look is not reported; nothing is written.
#include "verify.hpp"

#include <gtest/gtest.h>

#include "cache/list_version.hpp"
#include "worker_fakes.hpp"

namespace revalidator::worker {
namespace {

using fakes::FakeSink;
using fakes::FakeSource;
using fakes::int_row;
using fakes::list_text;

const VerifySettings kSettings{.prefix = "/a", .settle = std::chrono::milliseconds(0)};

// The list as the worker writes it: the head, and its version beside it.
void put_list(FakeSink& cache, const std::string& text) {
    cache.store["/a"] = text;
    cache.store[version_key("/a")] = list_version(text);
}

// Ids of one digit, so that the fake's text order is the list's.
struct Table {
    FakeSource source;
    FakeSink cache;
    Table() {
        for (int id = 1; id <= 5; ++id) {
            source.put(id);
            cache.store["/a/" + std::to_string(id)] = int_row(id);
        }
        put_list(cache, source.list());
    }
};

TEST(Verify, ATrueCacheIsEqualAndNothingIsWritten) {
    Table t;
    auto r = verify(t.source, t.cache, kSettings);
    EXPECT_TRUE(r.equal());
    EXPECT_TRUE(r.readable());
    EXPECT_EQ(r.rows, 5u);
    EXPECT_EQ(r.compared, 5u);
    EXPECT_TRUE(r.examples.empty());
    EXPECT_EQ(t.cache.sets + t.cache.removes, 0);
    EXPECT_EQ(describe(r, "public.a"),
              "verify public.a: 5 rows, 5 keys compared: 0 wrong, 0 missing, 0 unreadable; "
              "extra keys not listed; list equal\n");
}

TEST(Verify, WrongMissingAndUnreadableKeysAndAWrongListAreNamed) {
    Table t;
    t.cache.store["/a/2"] = int_row(2, "stale");
    t.cache.store.erase("/a/4");
    t.cache.unreachable_keys.insert("/a/5");
    t.cache.store["/a"] = list_text({int_row(1)});
    auto r = verify(t.source, t.cache, kSettings);
    EXPECT_FALSE(r.equal());
    EXPECT_FALSE(r.readable());
    EXPECT_EQ(r.wrong, 1u);
    EXPECT_EQ(r.missing, 1u);
    EXPECT_EQ(r.unreadable, 1u);
    EXPECT_EQ(r.list, VerifyReport::Found::Wrong);
    EXPECT_EQ(r.examples, (std::vector<std::string>{"wrong /a/2", "missing /a/4", "unreadable /a/5",
                                                    "wrong /a"}));
    EXPECT_EQ(t.cache.sets + t.cache.removes, 0);
}

TEST(Verify, AMissingListIsMissing) {
    Table t;
    t.cache.store.erase("/a");
    auto r = verify(t.source, t.cache, kSettings);
    EXPECT_EQ(r.list, VerifyReport::Found::Missing);
    EXPECT_FALSE(r.equal());
    EXPECT_TRUE(r.readable());
}

TEST(Verify, AListWhoseVersionNamesOtherBytesIsWrong) {
    // Readers answer from the version without reading the list: a version left from an older
    // list would have them serve it.
    Table t;
    t.cache.store[version_key("/a")] = list_version(list_text({int_row(1)}));
    auto r = verify(t.source, t.cache, kSettings);
    EXPECT_EQ(r.list, VerifyReport::Found::Wrong);
    EXPECT_FALSE(r.equal());

    t.cache.store.erase(version_key("/a"));
    EXPECT_EQ(verify(t.source, t.cache, kSettings).list, VerifyReport::Found::Missing)
        << "the worker writes it with every list";
}

TEST(Verify, WithoutAListNoneMayBeThere) {
    Table t;
    auto settings = kSettings;
    settings.list = false;
    EXPECT_EQ(verify(t.source, t.cache, settings).list, VerifyReport::Found::Wrong)
        << "a list an earlier configuration left is stale";
    t.cache.store.erase("/a");
    EXPECT_EQ(verify(t.source, t.cache, settings).list, VerifyReport::Found::Wrong)
        << "its version too";
    t.cache.store.erase(version_key("/a"));
    auto r = verify(t.source, t.cache, settings);
    EXPECT_EQ(r.list, VerifyReport::Found::Equal);
    EXPECT_TRUE(r.equal());
}

TEST(Verify, RowsWithoutAKeyAreCountedNotCompared) {
    Table t;
    t.source.table["a b"] = fakes::row_json("\"a b\"", "space");
    put_list(t.cache, t.source.list());
    auto r = verify(t.source, t.cache, kSettings);
    EXPECT_TRUE(r.equal());
    EXPECT_EQ(r.rows, 6u);
    EXPECT_EQ(r.compared, 5u);
    EXPECT_EQ(r.unkeyable, 1u);
    EXPECT_TRUE(t.cache.misread_keys.empty());
}

// A source whose second read comes after a writer caught up: the cache then holds the row.
class CatchingUp : public FakeSource {
  public:
    explicit CatchingUp(FakeSink& cache) : cache_(cache) {}
    Snapshot read(const std::vector<std::string>& pks, bool full, ListRows list) override {
        if (!full) {
            cache_.store["/a/3"] = table.at("3");
            put_list(cache_, FakeSource::list());
        }
        return FakeSource::read(pks, full, list);
    }

  private:
    FakeSink& cache_;
};

TEST(Verify, WhatAWriterFixesBeforeTheSecondLookIsNotReported) {
    FakeSink cache;
    CatchingUp source(cache);
    for (int id = 1; id <= 3; ++id) {
        source.put(id);
        cache.store["/a/" + std::to_string(id)] = int_row(id);
    }
    put_list(cache, list_text({int_row(1), int_row(2), int_row(3)}));
    source.put(3, "changed");  // committed, its write not yet made
    auto r = verify(source, cache, kSettings);
    EXPECT_TRUE(r.equal()) << describe(r, "t");
    ASSERT_EQ(source.calls.size(), 2u) << "the difference was looked at again";
    EXPECT_EQ(source.calls[1].pks, std::vector<std::string>{"3"});
}

TEST(Verify, ARowDeletedBetweenTheLooksNeedsItsKeyGone) {
    Table t;
    t.cache.store["/a/5"] = int_row(5, "stale");
    // The first look sees row 5 differ; by the second, row 5 is deleted and its key still there.
    class Deleting : public FakeSource {
      public:
        explicit Deleting(FakeSource& base) { table = base.table; }
        Snapshot read(const std::vector<std::string>& pks, bool full, ListRows list) override {
            if (!full) table.erase("5");
            return FakeSource::read(pks, full, list);
        }
    } source(t.source);
    auto r = verify(source, t.cache, kSettings);
    EXPECT_EQ(r.wrong, 1u) << "a key left for a deleted row holds a value no row has";
    EXPECT_EQ(r.examples.front(), "wrong /a/5");
}

class Lister : public KeyLister {
  public:
    std::optional<std::vector<std::string>> listed;
    std::optional<std::vector<std::string>> keys(std::string_view) override { return listed; }
};

TEST(Verify, KeysNoRowHasAreExtraWhenTheCacheCanBeListed) {
    Table t;
    t.cache.store["/a/9"] = int_row(9, "deleted long ago");
    t.cache.store["/a/01"] = "another spelling of row 1";
    Lister lister;
    lister.listed = std::vector<std::string>{"/a/1", "/a/9", "/a/01", "/a/x/1", "/a", "/ab/1"};
    auto r = verify(t.source, t.cache, kSettings, &lister);
    EXPECT_FALSE(r.equal());
    EXPECT_TRUE(r.readable());
    EXPECT_EQ(r.extra, 2u);
    EXPECT_EQ(r.examples, (std::vector<std::string>{"extra /a/01", "extra /a/9"}));
    EXPECT_NE(describe(r, "t").find("0 unreadable; 2 extra keys; list equal"), std::string::npos)
        << describe(r, "t");
    EXPECT_EQ(t.cache.sets + t.cache.removes, 0);

    lister.listed = std::nullopt;  // a server that cannot list: nothing is claimed
    auto unlisted = verify(t.source, t.cache, kSettings, &lister);
    EXPECT_TRUE(unlisted.equal());
    EXPECT_FALSE(unlisted.listed);
}

}  // namespace
}  // namespace revalidator::worker
