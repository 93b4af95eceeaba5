// AntiEntropy: the continuous comparison of the cache with Postgres, driven with the in-memory
// fakes. Each test makes the cache differ the way the world does (a webhook never sent, a buggy
// writer, a crash's leftover key), runs one whole pass, and checks what the pass found, that
// applying it heals the cache, and that a second pass then finds nothing.
#include "anti_entropy.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "batch_loop.hpp"
#include "postgres/sql.hpp"
#include "runtime/clock.hpp"
#include "wire/wire.hpp"
#include "worker_fakes.hpp"

namespace revalidator::worker {
namespace {

using namespace std::chrono_literals;
using fakes::FakeSink;
using fakes::FakeSource;
using fakes::int_row;

// Lists `listed` under "/articles/" and nothing under any other prefix. It is called on the
// pass's listing thread: set `listed` before the first pass.
class FakeLister : public KeyLister {
  public:
    std::optional<std::vector<std::string>> listed = std::vector<std::string>{};
    std::optional<std::vector<std::string>> keys(std::string_view prefix) override {
        if (prefix != "/articles/") return std::vector<std::string>{};
        return listed;
    }
};

class AntiEntropyTest : public ::testing::Test {
  protected:
    FakeSource source;
    FakeSink sink;
    FakeLister lister;
    metrics::Registry registry;
    ApplierConfig applier_cfg = fakes::default_applier();
    std::unique_ptr<Applier> applier;
    std::unique_ptr<AntiEntropy> ae;

    // Rows 10..19 (ids of one length, so that the fake's text order is the key order), applied by
    // a full resync, as a worker that has just become active. Readings run on the pass's thread,
    // as in the worker, unless the test shares the fakes with a loop (`background` false).
    void start(KeyOrder order = KeyOrder::Integer, std::size_t slice = 3, bool background = true) {
        source.key_order = order;
        for (int id = 10; id < 20; ++id) source.put(id);
        applier = std::make_unique<Applier>(source, sink, applier_cfg, registry);
        Batch full;
        full.full = true;
        ASSERT_TRUE(applier->apply(full).done());
        ae = std::make_unique<AntiEntropy>(PassReaders{source, sink}, sink, *applier, &lister,
                                           AntiEntropyConfig{.prefix = "/articles",
                                                             .rows_per_second = 1000,
                                                             .slice_rows = slice,
                                                             .background = background},
                                           registry);
    }

    double metric(const std::string& series) {
        return fakes::metric(registry.render(), series).value_or(-1);
    }

    // Steps until a pass ends, and returns everything it found. No reading is under way after
    // it: the test may change the fakes.
    Repairs pass() {
        const double before = metric("revalidator_worker_verify_passes_total");
        Repairs all;
        const auto deadline = AntiEntropy::Clock::now() + 5s;
        while (AntiEntropy::Clock::now() < deadline &&
               metric("revalidator_worker_verify_passes_total") == before) {
            Repairs r = ae->step(AntiEntropy::Clock::now());
            all.pks.insert(all.pks.end(), r.pks.begin(), r.pks.end());
            all.list |= r.list;
            std::this_thread::sleep_until(std::min(ae->due(), AntiEntropy::Clock::now() + 1ms));
        }
        EXPECT_GT(metric("revalidator_worker_verify_passes_total"), before) << "no pass ended";
        std::sort(all.pks.begin(), all.pks.end());
        all.pks.erase(std::unique(all.pks.begin(), all.pks.end()), all.pks.end());
        return all;
    }

    // What the loop does with a pass's findings: one batch, read from the source.
    void heal(const Repairs& r) {
        Batch b;
        b.pks = r.pks;
        b.list = r.list;
        for (const auto& pk : r.pks) b.received.emplace(pk, 0);
        const Outcome out = applier->apply(b);
        ASSERT_TRUE(out.done());
        ae->applied(b, out, AntiEntropy::Clock::now());
    }

    // Every row's key and the list hold what the source holds, and no other row key is there.
    void expect_true_cache() {
        for (const auto& [pk, json] : source.table) {
            EXPECT_EQ(sink.at("/articles/" + pk), json) << pk;
        }
        for (const auto& [key, _] : sink.store) {
            if (key.rfind("/articles/", 0) != 0) continue;
            EXPECT_TRUE(source.table.count(key.substr(10))) << "extra key " << key;
        }
        EXPECT_EQ(sink.read_list("/articles"), source.list());
    }

    // The service level's series: keys "compared" or "wrong", and heals timed.
    double keys(const std::string& which) {
        return metric("revalidator_worker_verify_keys_" + which + "_total");
    }
    double heals() { return metric("revalidator_worker_verify_wrong_age_seconds_count"); }

    std::string kind(const std::string& k) {
        return "revalidator_worker_divergences_total{kind=\"" + k + "\"}";
    }
};

TEST_F(AntiEntropyTest, ATrueCacheIsVerifiedWholeAndNothingIsFound) {
    start();
    Repairs r = pass();
    EXPECT_TRUE(r.empty());
    EXPECT_EQ(metric("revalidator_worker_verify_rows_total"), 10);
    for (const char* k : {"missing", "wrong", "list_row", "vanished", "stray_key", "list"}) {
        EXPECT_EQ(metric(kind(k)), 0) << k;
    }
}

TEST_F(AntiEntropyTest, ALostUpdateIsFoundInTheKeyAndTheListAndHealed) {
    start();
    source.put(14, "changed without a webhook");
    Repairs r = pass();
    EXPECT_EQ(r.pks, std::vector<std::string>{"14"});
    EXPECT_EQ(metric(kind("wrong")), 1);
    EXPECT_EQ(metric(kind("list_row")), 1);
    heal(r);
    expect_true_cache();
    EXPECT_TRUE(pass().empty());
}

TEST_F(AntiEntropyTest, ALostInsertAndALostDeleteAreFoundOnceEachAndHealed) {
    start();
    source.table.erase("15");
    source.put(21);
    Repairs r = pass();
    EXPECT_EQ(r.pks, (std::vector<std::string>{"15", "21"}));
    EXPECT_EQ(metric(kind("missing")), 1);   // 21 has no key
    EXPECT_EQ(metric(kind("list_row")), 1);  // nor a place in the list
    EXPECT_EQ(metric(kind("vanished")), 1);  // 15 is listed and keyed, but gone: counted once
    heal(r);
    expect_true_cache();
    EXPECT_TRUE(pass().empty());
}

TEST_F(AntiEntropyTest, ALostDeleteIsFoundInTheListsRangeAndHealed) {
    start();
    source.table.erase("12");
    source.table.erase("19");  // the last row: the last slice has no upper bound
    Repairs r = pass();
    EXPECT_EQ(r.pks, (std::vector<std::string>{"12", "19"}));
    EXPECT_EQ(metric(kind("vanished")), 2);
    heal(r);
    expect_true_cache();
    EXPECT_EQ(sink.at("/articles/12"), "<absent>");
    EXPECT_TRUE(pass().empty());
}

TEST_F(AntiEntropyTest, ALostDeleteIsFoundAtThePassEndWhenTheListIsNotKeptByKey) {
    start(KeyOrder::None);
    source.table.erase("17");
    Repairs r = pass();
    EXPECT_EQ(r.pks, std::vector<std::string>{"17"});
    EXPECT_EQ(metric(kind("vanished")), 1);
    heal(r);
    expect_true_cache();
}

TEST_F(AntiEntropyTest, ValuesABuggyWriterLeftAreFoundAndRewritten) {
    start();
    sink.store["/articles/11"] = "garbage";
    sink.store["/articles/13"] = int_row(13, "an older value");
    sink.store.erase("/articles/16");
    Repairs r = pass();
    EXPECT_EQ(r.pks, (std::vector<std::string>{"11", "13", "16"}));
    EXPECT_EQ(metric(kind("wrong")), 2);
    EXPECT_EQ(metric(kind("missing")), 1);
    EXPECT_EQ(metric(kind("list_row")), 0);  // the list the worker holds is right
    heal(r);
    expect_true_cache();
}

TEST_F(AntiEntropyTest, WithoutAListRowKeysAreStillRepaired) {
    applier_cfg.list = false;
    start();
    ASSERT_EQ(sink.at("/articles"), "<absent>");
    source.put(14, "changed without a webhook");
    source.table.erase("15");
    source.put(21);
    sink.store["/articles/11"] = "garbage";
    Repairs r = pass();
    EXPECT_EQ(r.pks, (std::vector<std::string>{"11", "14", "15", "21"}));
    EXPECT_FALSE(r.list);
    EXPECT_EQ(metric(kind("wrong")), 2);
    EXPECT_EQ(metric(kind("missing")), 1);
    EXPECT_EQ(metric(kind("vanished")), 1);
    EXPECT_EQ(metric(kind("list_row")), 0);  // no list to compare
    EXPECT_EQ(metric(kind("list")), 0);
    heal(r);
    for (const auto& [pk, json] : source.table) EXPECT_EQ(sink.at("/articles/" + pk), json) << pk;
    EXPECT_EQ(sink.at("/articles/15"), "<absent>");
    EXPECT_EQ(sink.at("/articles"), "<absent>");
    EXPECT_TRUE(pass().empty());
}

// The service level: every row key a pass compares is counted, and each one found wrong, so that
// 1 - wrong/compared is the share of keys that were right.
TEST_F(AntiEntropyTest, KeysComparedAndKeysFoundWrongAreCountedEachPass) {
    start();
    EXPECT_TRUE(pass().empty());
    EXPECT_EQ(keys("compared"), 10);
    EXPECT_EQ(keys("wrong"), 0);

    source.put(14, "changed without a webhook");  // the key holds other bytes
    sink.store.erase("/articles/16");             // no key
    source.table.erase("12");                     // the key of a row no longer there
    Repairs r = pass();
    EXPECT_EQ(r.pks, (std::vector<std::string>{"12", "14", "16"}));
    // Nine rows, and the key of the row gone; the list's own differences are not keys.
    EXPECT_EQ(keys("compared"), 20);
    EXPECT_EQ(keys("wrong"), 3);
    heal(r);
    EXPECT_EQ(heals(), 3);

    EXPECT_TRUE(pass().empty());
    EXPECT_EQ(keys("compared"), 29);
    EXPECT_EQ(keys("wrong"), 3);
}

TEST_F(AntiEntropyTest, AKeyOfARowGoneIsCountedAtThePassEndWhenTheListIsNotKeptByKey) {
    start(KeyOrder::None);
    source.table.erase("17");
    Repairs r = pass();
    EXPECT_EQ(r.pks, std::vector<std::string>{"17"});
    EXPECT_EQ(keys("compared"), 10);  // 9 rows and 17's key
    EXPECT_EQ(keys("wrong"), 1);
    heal(r);
    EXPECT_EQ(heals(), 1);
}

// A key found wrong pass after pass (its writes failing, or another writer overwriting it) is
// timed from the step of the first pass that found it, once, when a batch finally writes it.
TEST_F(AntiEntropyTest, AWrongKeyIsTimedFromWhenItWasFirstFoundUntilABatchWritesIt) {
    start();
    sink.store["/articles/13"] = "garbage";
    const auto t0 = AntiEntropy::Clock::now();
    Repairs first = pass();
    ASSERT_EQ(first.pks, std::vector<std::string>{"13"});
    // The batch that should heal it could not write it: still owed, not healed.
    Batch b;
    b.pks = first.pks;
    b.received.emplace("13", 0);
    Outcome failed;
    failed.retry = b;
    ae->applied(b, failed, t0 + 10s);
    EXPECT_EQ(heals(), 0);

    // The next pass, its steps a minute later, finds it again.
    Repairs again;
    const double passes = metric("revalidator_worker_verify_passes_total");
    for (int i = 0; i < 1000 && metric("revalidator_worker_verify_passes_total") == passes; ++i) {
        Repairs r = ae->step(AntiEntropy::Clock::now() + 60s);
        again.pks.insert(again.pks.end(), r.pks.begin(), r.pks.end());
        std::this_thread::sleep_for(1ms);
    }
    ASSERT_EQ(again.pks, std::vector<std::string>{"13"});
    EXPECT_EQ(keys("wrong"), 2);

    // Written two minutes after the first pass: timed from it, not from the second.
    const Outcome written = applier->apply(b);
    ASSERT_TRUE(written.done());
    ae->applied(b, written, AntiEntropy::Clock::now() + 120s);
    EXPECT_EQ(heals(), 1);
    EXPECT_GE(metric("revalidator_worker_verify_wrong_age_seconds_sum"), 119);
    EXPECT_EQ(metric("revalidator_worker_verify_wrong_age_seconds_bucket{le=\"60\"}"), 0);
    EXPECT_EQ(metric("revalidator_worker_verify_wrong_age_seconds_bucket{le=\"300\"}"), 1);

    // Healed once: a later batch of the same row observes nothing more.
    heal(first);
    EXPECT_EQ(heals(), 1);
}

// A full resync writes every row: whatever the pass had found wrong is healed by it.
TEST_F(AntiEntropyTest, AFullResyncHealsEveryKeyFoundWrong) {
    start();
    sink.store["/articles/11"] = "garbage";
    sink.store["/articles/18"] = "garbage";
    ASSERT_EQ(pass().pks, (std::vector<std::string>{"11", "18"}));
    Batch full;
    full.full = true;
    const Outcome out = applier->apply(full);
    ASSERT_TRUE(out.done());
    ae->applied(full, out, AntiEntropy::Clock::now());
    EXPECT_EQ(heals(), 2);
}

// What was found in an earlier term as the writer is not timed when the worker is the writer
// again: the other writer may have healed it long before.
TEST_F(AntiEntropyTest, WhatAnEarlierTermFoundIsForgotten) {
    start();
    sink.store["/articles/11"] = "garbage";
    Repairs r = pass();
    ASSERT_EQ(r.pks, std::vector<std::string>{"11"});
    ae->forget_found();
    heal(r);
    EXPECT_EQ(heals(), 0);
}

TEST_F(AntiEntropyTest, KeysNoRowHasAreDeletedWhenTheCacheListsThem) {
    start();
    for (const char* key : {"/articles/99", "/articles/010"}) sink.store[key] = "leftover";
    // A key under a nested prefix (another table's), a key that is no row key, and the list's
    // own keys are left alone.
    sink.store["/articles/featured/1"] = "another table's";
    lister.listed = std::vector<std::string>{"/articles/99", "/articles/010", "/articles/10",
                                             "/articles/featured/1", "/articles/bad key"};
    // The listing a pass starts is used at the end of a later one.
    Repairs r = pass();
    for (int i = 0; i < 100 && metric(kind("stray_key")) < 2; ++i) {
        std::this_thread::sleep_for(1ms);
        Repairs more = pass();
        r.pks.insert(r.pks.end(), more.pks.begin(), more.pks.end());
    }
    EXPECT_TRUE(r.empty());
    EXPECT_EQ(metric(kind("stray_key")), 2);
    EXPECT_EQ(sink.at("/articles/99"), "<absent>");
    EXPECT_EQ(sink.at("/articles/010"), "<absent>");
    EXPECT_EQ(sink.at("/articles/featured/1"), "another table's");
    EXPECT_TRUE(sink.misread_keys.empty());
    sink.store.erase("/articles/featured/1");
    expect_true_cache();
}

TEST(ListedRowId, OnlyKeysShapedAsThisCollectionsRowKeysNameAnId) {
    EXPECT_EQ(listed_row_id("/articles", "/articles/7"), "7");
    EXPECT_EQ(listed_row_id("/articles", "/articles/featured"), "featured");  // its type decides
    for (const char* key :
         {"/articles", "/articles/", "/articlesX/7", "/authors/7", "/articles/featured/1",
          "/articles/featured:part:1:0", "/articles/bad key"}) {
        EXPECT_EQ(listed_row_id("/articles", key), std::nullopt) << key;
    }
}

// Another collection whose prefix nests under this one's ("/articles/featured", configured by
// flags, or by another deployment sharing the cache): its list, its parts and its rows are never
// this collection's strays, whatever the key type.
class NestedCollectionTest : public AntiEntropyTest {
  protected:
    void expect_foreign_keys_kept(bool integer_key) {
        const std::map<std::string, std::string> foreign = {
            {"/articles/featured", R"([{"id": 1}])"},
            {"/articles/featured:part:1:0", R"({"id": 1}, {"id": 2})"},
            {"/articles/featured/1", R"({"id": 1})"},
            {"/articles/pinned",
             R"({"bytes":9,"chunked":true,"parts":["/articles/pinned:part:1:0"]})"},
            {"/articles/drafts", "[]"},
        };
        if (integer_key) {
            source.canonical = [](const std::string& pk) {
                return sql::canonical(sql::KeyKind::Int64, pk);
            };
        }
        start();
        std::vector<std::string> listed{"/articles/99", "/articles/note"};
        for (const auto& [key, value] : foreign) {
            sink.store[key] = value;
            listed.push_back(key);
        }
        sink.store["/articles/99"] = "leftover";
        // Not a list, but no bigint either: kept under an integer key, a stray under a text one.
        sink.store["/articles/note"] = "leftover";
        lister.listed = listed;
        for (int i = 0; i < 100 && metric(kind("stray_key")) < 1; ++i) {
            std::this_thread::sleep_for(1ms);
            pass();
        }
        EXPECT_EQ(sink.at("/articles/99"), "<absent>");
        for (const auto& [key, value] : foreign) EXPECT_EQ(sink.at(key), value) << key;
        EXPECT_EQ(sink.at("/articles/note"), integer_key ? "leftover" : "<absent>");
        EXPECT_EQ(metric(kind("stray_key")), integer_key ? 1 : 2);
    }
};

TEST_F(NestedCollectionTest, ItsKeysAreNeverStraysOfAnIntegerKeyedTable) {
    expect_foreign_keys_kept(true);
}

TEST_F(NestedCollectionTest, ItsKeysAreNeverStraysOfATextKeyedTable) {
    expect_foreign_keys_kept(false);
}

// The listing is older than the pass's end: a key listed then and deleted since (its row's
// DELETE announced and applied) is not a stray, nor deleted again.
TEST_F(AntiEntropyTest, AKeyListedButDeletedSinceIsNoStray) {
    start();
    sink.store["/articles/98"] = "leftover";
    lister.listed = std::vector<std::string>{"/articles/98", "/articles/99"};
    for (int i = 0; i < 100 && metric(kind("stray_key")) < 1; ++i) {
        std::this_thread::sleep_for(1ms);
        EXPECT_TRUE(pass().empty());
    }
    EXPECT_EQ(metric(kind("stray_key")), 1);
    EXPECT_EQ(sink.at("/articles/98"), "<absent>");
    EXPECT_EQ(sink.removes, 1);
}

TEST_F(AntiEntropyTest, AListThatCannotBeListedLeavesThePassWithoutStrayKeys) {
    start();
    sink.store["/articles/99"] = "leftover";
    lister.listed = std::nullopt;
    for (int i = 0; i < 5; ++i) {
        EXPECT_TRUE(pass().empty());
        std::this_thread::sleep_for(1ms);
    }
    EXPECT_EQ(sink.at("/articles/99"), "leftover");
}

TEST_F(AntiEntropyTest, AWrongListIsRewritten) {
    start();
    sink.store["/articles"] = "[]";
    Repairs r = pass();
    EXPECT_TRUE(r.pks.empty());
    EXPECT_TRUE(r.list);
    EXPECT_EQ(metric(kind("list")), 1);
    heal(r);
    expect_true_cache();
    EXPECT_TRUE(pass().empty());
}

TEST_F(AntiEntropyTest, AViewEvictedOrOverwrittenIsWrittenAgainWithoutAnyChange) {
    // A view of the even ids, in key order.
    applier_cfg.views = {"/even"};
    source.views.push_back([](const std::map<std::string, std::string>& table) {
        std::vector<Row> rows;
        for (const auto& [pk, json] : table) {
            if (std::stoi(pk) % 2 == 0) rows.push_back({pk, json});
        }
        return rows;
    });
    start();
    const std::string view = sink.at("/even");
    ASSERT_NE(view.find(R"("id": 18)"), std::string::npos) << view;
    EXPECT_TRUE(pass().empty()) << "a true view is no divergence";

    for (const auto& damage :
         std::vector<std::function<void()>>{[&] { sink.store.erase("/even"); },      // evicted
                                            [&] { sink.store["/even"] = "[]"; }}) {  // overwritten
        damage();
        Repairs r = pass();
        EXPECT_TRUE(r.pks.empty());
        EXPECT_TRUE(r.list) << "the views are written with the list";
        heal(r);
        EXPECT_EQ(sink.at("/even"), view);
        EXPECT_TRUE(pass().empty());
    }
    EXPECT_EQ(metric(kind("view")), 2);
    EXPECT_EQ(metric(kind("list")), 0);
}

TEST_F(AntiEntropyTest, AWrongPartOfAChunkedListIsWrittenAnewUnderNewKeys) {
    applier_cfg.max_item_bytes = 100;  // about two rows a part
    start();
    auto parts = sink.part_keys("/articles");
    ASSERT_GT(parts.size(), 2u);
    sink.store[parts[1]] = "wrong bytes";
    Repairs r = pass();
    EXPECT_TRUE(r.list);
    heal(r);
    expect_true_cache();
    // A part key is never reused for other bytes: the wrong one is gone, not overwritten.
    EXPECT_EQ(sink.at(parts[1]), "<absent>");
    // Only its segment was written anew: the other parts are reused as they were.
    const auto now = sink.part_keys("/articles");
    const auto kept = std::count_if(parts.begin(), parts.end(), [&](const std::string& k) {
        return std::find(now.begin(), now.end(), k) != now.end();
    });
    EXPECT_GE(kept, static_cast<long>(parts.size()) - 2) << "a segment is at most two parts here";
    EXPECT_TRUE(pass().empty());
}

// Parts are read at most one a step, spread over the pass (each once, not once a step), yet
// every part is compared within every pass.
TEST_F(AntiEntropyTest, EveryPartIsComparedWithinEachPass) {
    applier_cfg.max_item_bytes = 100;
    start(KeyOrder::Integer, 1);  // eleven steps a pass: more steps than parts
    EXPECT_TRUE(pass().empty());  // the first pass counts its steps
    const std::size_t count = sink.part_keys("/articles").size();
    ASSERT_GT(count, 2u);
    for (std::size_t k = 0; k < count; ++k) {
        auto parts = sink.part_keys("/articles");
        sink.store[parts[k]] = "wrong bytes";
        Repairs r = pass();
        EXPECT_TRUE(r.list) << "part " << k;
        heal(r);
        expect_true_cache();
    }
}

TEST_F(AntiEntropyTest, AFailingSourceIsCountedAndTheSliceIsTriedAgain) {
    start(KeyOrder::Integer, 100);
    source.put(12, "lost");
    source.fail = true;
    const auto deadline = AntiEntropy::Clock::now() + 5s;
    while (AntiEntropy::Clock::now() < deadline &&
           metric("revalidator_worker_verify_failures_total") == 0) {
        EXPECT_TRUE(ae->step(AntiEntropy::Clock::now()).empty());
        std::this_thread::sleep_for(1ms);
    }
    EXPECT_EQ(metric("revalidator_worker_verify_failures_total"), 1);
    EXPECT_GE(ae->due(), AntiEntropy::Clock::now() + 4s) << "a failed step pauses the pass";
    source.fail = false;
    EXPECT_EQ(pass().pks, std::vector<std::string>{"12"});
}

// Postgres that answers the pass's slices only once the test lets it.
class HeldSource : public DigestSource {
  public:
    explicit HeldSource(DigestSource& inner) : inner_(inner) {}
    std::promise<void> release;
    std::atomic<bool> asked{false};
    std::atomic<bool> never_released{false};

    std::vector<RowDigest> digests(const std::optional<std::string>& after,
                                   std::size_t limit) override {
        asked = true;
        if (released_.wait_for(5s) != std::future_status::ready) never_released = true;
        return inner_.digests(after, limit);
    }
    std::vector<RowDigest> digests_of(const std::vector<std::string>& pks) override {
        return inner_.digests_of(pks);
    }
    bool spells_key(const std::string& id) override { return inner_.spells_key(id); }

  private:
    DigestSource& inner_;
    std::shared_future<void> released_ = release.get_future().share();
};

// The reading half runs on the pass's thread: while Postgres is slow to answer, the loop's steps
// return at once (its batches go on), and the slice is compared once the answer is there.
TEST_F(AntiEntropyTest, AStepDoesNotWaitForItsReading) {
    start();
    HeldSource held(source);
    metrics::Registry own;
    AntiEntropy slow(PassReaders{held, sink}, sink, *applier, &lister,
                     {.prefix = "/articles", .rows_per_second = 1000, .slice_rows = 3}, own);
    source.put(11, "changed without a webhook");
    const auto deadline = AntiEntropy::Clock::now() + 5s;
    EXPECT_TRUE(slow.step(AntiEntropy::Clock::now()).empty());
    while (!held.asked && AntiEntropy::Clock::now() < deadline) std::this_thread::sleep_for(1ms);
    ASSERT_TRUE(held.asked);
    for (int i = 0; i < 3; ++i) {
        const auto now = AntiEntropy::Clock::now();
        EXPECT_TRUE(slow.step(now).empty());
        EXPECT_LE(slow.due(), now + 10ms) << "the loop looks again soon";
    }
    held.release.set_value();
    Repairs r;
    while (r.pks.empty() && AntiEntropy::Clock::now() < deadline) {
        r = slow.step(AntiEntropy::Clock::now());
        std::this_thread::sleep_for(1ms);
    }
    EXPECT_EQ(std::set<std::string>(r.pks.begin(), r.pks.end()), std::set<std::string>{"11"});
    EXPECT_FALSE(held.never_released);
}

TEST_F(AntiEntropyTest, StepsAreSpacedByTheBudgetFromTheirStart) {
    start(KeyOrder::Integer, 5, false);  // 5 rows a step at 1000 rows/s: 5 ms apart
    const auto before = AntiEntropy::Clock::now();
    ae->step(before);
    const auto after = AntiEntropy::Clock::now();
    EXPECT_GE(ae->due(), before + 5ms);
    EXPECT_LE(ae->due(), after + 5ms);
}

TEST_F(AntiEntropyTest, ARateOfZeroIsOff) {
    start();
    AntiEntropy off({source, sink}, sink, *applier, &lister,
                    {.prefix = "/articles", .rows_per_second = 0, .slice_rows = 10}, registry);
    EXPECT_FALSE(off.enabled());
    source.put(12, "lost");
    EXPECT_TRUE(off.step(AntiEntropy::Clock::now()).empty());
}

TEST_F(AntiEntropyTest, PassesAreSpacedByTheirMinimumOnASmallTable) {
    start(KeyOrder::Integer, 100, false);
    const auto now = AntiEntropy::Clock::now();
    ae->step(now);  // the whole table
    ae->step(now);  // the pass's end
    EXPECT_GE(ae->due() - now, std::chrono::milliseconds(900));
}

// The loop runs the pass when nothing is owed and applies what it finds: a change no webhook
// announced reaches the cache with no event and no resync.
TEST_F(AntiEntropyTest, TheLoopHealsALostChangeWithoutAnyEvent) {
    start(KeyOrder::Integer, 3, false);
    metrics::Registry loop_registry;
    BatchLoop loop(*applier, fakes::quick_loop(), loop_registry, ae.get());
    source.put(13, "changed without a webhook");
    source.table.erase("18");
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (
        std::chrono::steady_clock::now() < deadline &&
        (sink.at("/articles/13") != source.table["13"] || sink.at("/articles/18") != "<absent>")) {
        std::this_thread::sleep_for(std::min(loop.step(), std::chrono::milliseconds(10)));
    }
    expect_true_cache();
    EXPECT_EQ(metric("revalidator_worker_resyncs_total"), 1) << "only the first, at start";
}

// Under a steady stream of webhooks something is always owed when the loop steps: the pass must
// still run on its budget, or lost changes would wait for the stream to stop.
TEST_F(AntiEntropyTest, ThePassKeepsItsPaceWhileEventsKeepArriving) {
    start(KeyOrder::Integer, 3, false);
    metrics::Registry loop_registry;
    BatchLoop loop(*applier, fakes::quick_loop(), loop_registry, ae.get());
    source.put(17, "changed without a webhook");
    std::uint64_t seq = 0;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline &&
           sink.at("/articles/17") != source.table["17"]) {
        ++seq;
        source.put(11, "announced " + std::to_string(seq));
        loop.ingest({wire::encode(
            Event{"ingress-a", 1, seq, unix_micros(), Op::Update, "public", "articles", "11"})});
        loop.step();
        std::this_thread::sleep_for(1ms);
    }
    EXPECT_EQ(sink.at("/articles/17"), source.table["17"])
        << registry.render() << loop_registry.render();
    EXPECT_GT(seq, 1u);
}

// The loop's wait for frames ends when the pass's next step is due, after a batch too: a wait of
// the idle default there would halve the pass's pace whenever it heals something.
TEST_F(AntiEntropyTest, TheLoopWaitsOnlyUntilTheNextStepAfterABatch) {
    start(KeyOrder::Integer, 3, false);  // 3 rows a step at 1000 rows/s: a step every 3 ms
    metrics::Registry loop_registry;
    BatchLoop loop(*applier, fakes::quick_loop(), loop_registry, ae.get());
    loop.ingest({wire::encode(
        Event{"ingress-a", 1, 1, unix_micros(), Op::Update, "public", "articles", "11"})});
    const auto wait = loop.step();
    EXPECT_EQ(loop.pending_keys(), 0u) << "the event was applied";
    EXPECT_LE(wait, 4ms);
}

TEST(Md5, IsPostgresMd5OfText) {
    // RFC 1321's test vectors; Postgres' md5() answers the same.
    EXPECT_EQ(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
    EXPECT_EQ(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
}

}  // namespace
}  // namespace revalidator::worker
