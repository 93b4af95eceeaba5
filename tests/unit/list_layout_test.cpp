// The list's layout: one item when it fits, otherwise one part per segment (several for a segment
// over the limit) plus a JSON manifest naming them; unchanged segments keep their parts.
#include "list/layout.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace revalidator::worker {
namespace {

ListSegment seg(std::uint64_t version, std::string text) {
    return {version, std::make_shared<const std::string>(std::move(text))};
}

// A segment of exactly `n` bytes, shaped like the real ones ("[..." first, ", ..." later, "]"
// last).
std::string body(std::size_t n, bool first, bool last, char fill = 'x') {
    std::string s = first ? "[" : ", ";
    while (s.size() + (last ? 1 : 0) < n) s += fill;
    if (last) s += "]";
    s.resize(n);
    return s;
}

std::string text_of(const std::vector<ListSegment>& list) {
    std::string all;
    for (const auto& s : list) all += *s.text;
    return all;
}

std::string concat(const ListPlan& plan) {
    std::string all;
    for (const auto& p : plan.parts) all += p.value;
    return all;
}

std::vector<std::string> keys_written(const ListPlan& plan) {
    std::vector<std::string> keys;
    for (const auto& p : plan.parts) keys.push_back(p.key);
    return keys;
}

std::vector<std::string> manifest_keys(const ListPlan& plan) {
    auto manifest = nlohmann::json::parse(plan.head);
    std::vector<std::string> keys;
    for (const auto& k : manifest.at("parts")) keys.push_back(k.get<std::string>());
    return keys;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

// The generation a part key was written under ("{prefix}:part:G:i").
std::uint64_t generation_of(const std::string& key) {
    auto end = key.rfind(':');
    auto start = key.rfind(':', end - 1) + 1;
    return std::stoull(key.substr(start, end - start));
}

const auto all_cached = [](const std::string&) { return true; };

// Three segments of 40 bytes: 120 bytes, over a 100-byte limit.
std::vector<ListSegment> three(std::uint64_t a = 1, std::uint64_t b = 2, std::uint64_t c = 3,
                               char fill_b = 'b') {
    return {seg(a, body(40, true, false, 'a')), seg(b, body(40, false, false, fill_b)),
            seg(c, body(40, false, true, 'c'))};
}

// A segment of 30 bytes, then one of 250 bytes: one part, then three, over a 100-byte limit.
std::vector<ListSegment> short_and_split() {
    return {seg(1, body(30, true, false, 'a')), seg(2, body(250, false, true, 'b'))};
}

TEST(ListLayout, PartKey) {
    EXPECT_EQ(part_key("/articles", 7, 0), "/articles:part:7:0");
    EXPECT_EQ(part_key("/articles", 1700000000000001, 12), "/articles:part:1700000000000001:12");
}

TEST(ListLayout, SmallListIsTheHead) {
    ListLayout layout("/articles", 1000, 5);
    std::vector<ListSegment> list = {seg(1, R"([{"id": 1})"), seg(2, R"(, {"id": 2}])")};
    ListPlan plan = layout.plan(list, all_cached);
    EXPECT_TRUE(plan.parts.empty());
    EXPECT_TRUE(plan.obsolete.empty());
    EXPECT_EQ(plan.head, R"([{"id": 1}, {"id": 2}])");
}

TEST(ListLayout, EmptyListIsTheHead) {
    ListLayout layout("/articles", 1000, 5);
    ListPlan plan = layout.plan({seg(1, "[]")}, all_cached);
    EXPECT_TRUE(plan.parts.empty());
    EXPECT_EQ(plan.head, "[]");
}

TEST(ListLayout, ExactlyMaxIsOneItem) {
    ListLayout layout("/articles", 100, 5);
    std::vector<ListSegment> list = {seg(1, body(60, true, false)), seg(2, body(40, false, true))};
    ListPlan plan = layout.plan(list, all_cached);
    EXPECT_TRUE(plan.parts.empty());
    EXPECT_EQ(plan.head, text_of(list));
    EXPECT_EQ(plan.head.size(), 100u);
}

TEST(ListLayout, OverMaxIsOnePartPerSegmentAndAManifest) {
    ListLayout layout("/articles", 100, 41);
    auto list = three();
    ListPlan plan = layout.plan(list, all_cached);

    ASSERT_EQ(plan.parts.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(plan.parts[i].value, *list[i].text) << i;
        // The parts point into the segments: nothing is copied before the write.
        EXPECT_EQ(plan.parts[i].value.data(), list[i].text->data()) << i;
    }
    EXPECT_EQ(concat(plan), text_of(list));
    EXPECT_TRUE(plan.obsolete.empty());

    ASSERT_FALSE(plan.head.empty());
    EXPECT_EQ(plan.head.front(), '{');  // readers tell a manifest from a list by its first byte
    auto manifest = nlohmann::json::parse(plan.head);
    EXPECT_EQ(manifest.at("chunked"), true);
    EXPECT_EQ(manifest.at("bytes"), 120);
    EXPECT_EQ(manifest_keys(plan), keys_written(plan));  // in list order
    const auto written = keys_written(plan);
    std::set<std::string> distinct(written.begin(), written.end());
    EXPECT_EQ(distinct.size(), 3u);
    for (const auto& k : keys_written(plan)) {
        EXPECT_EQ(k.rfind("/articles:part:", 0), 0u) << k;
        EXPECT_GT(generation_of(k), 41u) << k;
    }
}

TEST(ListLayout, ASegmentLargerThanMaxIsSplitIntoSeveralParts) {
    ListLayout layout("/l", 100, 1);
    std::vector<ListSegment> list = {seg(1, body(30, true, false, 'a')),
                                     seg(2, body(250, false, false, 'b')),
                                     seg(3, body(100, false, true, 'c'))};
    ListPlan plan = layout.plan(list, all_cached);

    ASSERT_EQ(plan.parts.size(), 5u);
    EXPECT_EQ(plan.parts[0].value, *list[0].text);
    EXPECT_EQ(plan.parts[1].value.size(), 100u);
    EXPECT_EQ(plan.parts[2].value.size(), 100u);
    EXPECT_EQ(plan.parts[3].value.size(), 50u);
    EXPECT_EQ(plan.parts[4].value, *list[2].text);  // exactly the limit: one part, none empty
    for (const auto& p : plan.parts) EXPECT_LE(p.value.size(), 100u);
    EXPECT_EQ(concat(plan), text_of(list));
    EXPECT_EQ(manifest_keys(plan), keys_written(plan));
    EXPECT_EQ(nlohmann::json::parse(plan.head).at("bytes"), 380);
}

TEST(ListLayout, AChangedSegmentIsTheOnlyPartWritten) {
    ListLayout layout("/l", 100, 1);
    ListPlan first = layout.plan(three(), all_cached);
    layout.committed();
    const auto k = keys_written(first);

    std::vector<std::string> asked;
    auto list = three(1, 4, 3, 'B');  // the middle segment changed: a new version
    ListPlan second = layout.plan(list, [&](const std::string& key) {
        asked.push_back(key);
        return true;
    });

    ASSERT_EQ(second.parts.size(), 1u);
    EXPECT_EQ(second.parts[0].value, *list[1].text);
    EXPECT_NE(second.parts[0].key, k[1]);
    EXPECT_EQ(manifest_keys(second), (std::vector<std::string>{k[0], second.parts[0].key, k[2]}));
    EXPECT_EQ(second.obsolete, (std::vector<std::string>{k[1]}));
    EXPECT_EQ(sorted(asked), sorted({k[0], k[2]}));  // reused parts are checked, new ones not
    layout.committed();

    // Nothing changed: nothing to write, nothing obsolete, the same manifest.
    ListPlan third = layout.plan(list, all_cached);
    EXPECT_TRUE(third.parts.empty());
    EXPECT_TRUE(third.obsolete.empty());
    EXPECT_EQ(third.head, second.head);
}

TEST(ListLayout, AReplacedSplitSegmentMakesAllItsPartsObsolete) {
    ListLayout layout("/l", 100, 1);
    std::vector<ListSegment> list = short_and_split();
    ListPlan first = layout.plan(list, all_cached);
    layout.committed();
    ASSERT_EQ(first.parts.size(), 4u);
    const auto k = keys_written(first);

    list[1] = seg(3, body(150, false, true, 'B'));
    ListPlan second = layout.plan(list, all_cached);
    ASSERT_EQ(second.parts.size(), 2u);
    EXPECT_EQ(concat(second), *list[1].text);
    EXPECT_EQ(sorted(second.obsolete), sorted({k[1], k[2], k[3]}));
    EXPECT_EQ(manifest_keys(second)[0], k[0]);
}

TEST(ListLayout, APartNoLongerCachedIsWrittenAgain) {
    ListLayout layout("/l", 100, 1);
    std::vector<ListSegment> list = short_and_split();
    ListPlan first = layout.plan(list, all_cached);
    layout.committed();
    const auto k = keys_written(first);

    // One of the three parts of segment 2 was evicted: all three are written again, under new
    // keys, and the survivors go (a part key never names other bytes).
    ListPlan second = layout.plan(list, [&](const std::string& key) { return key != k[2]; });
    ASSERT_EQ(second.parts.size(), 3u);
    EXPECT_EQ(concat(second), *list[1].text);
    for (const auto& p : second.parts) {
        EXPECT_TRUE(std::find(k.begin(), k.end(), p.key) == k.end()) << p.key;
    }
    EXPECT_EQ(sorted(second.obsolete), sorted({k[1], k[2], k[3]}));
    auto keys = manifest_keys(second);
    ASSERT_EQ(keys.size(), 4u);
    EXPECT_EQ(keys[0], k[0]);
}

TEST(ListLayout, ADistrustedPartRewritesItsSegmentAloneAndTheOthersAreReused) {
    ListLayout layout("/l", 100, 1);
    std::vector<ListSegment> list = short_and_split();
    ListPlan first = layout.plan(list, all_cached);
    layout.committed();
    const auto k = keys_written(first);
    ASSERT_EQ(k.size(), 4u);

    // The anti-entropy pass found k[2], a part of segment 2, holding other bytes.
    layout.distrust_part(k[2]);
    std::vector<std::string> asked;
    ListPlan second = layout.plan(list, [&](const std::string& key) {
        asked.push_back(key);
        return true;
    });
    ASSERT_EQ(second.parts.size(), 3u);
    EXPECT_EQ(concat(second), *list[1].text);
    EXPECT_EQ(sorted(second.obsolete), sorted({k[1], k[2], k[3]}));
    EXPECT_EQ(manifest_keys(second)[0], k[0]);
    EXPECT_EQ(asked, std::vector<std::string>{k[0]});  // segment 1 is reused as it was

    // A key the layout does not name changes nothing.
    layout.committed();
    layout.distrust_part("/l:part:999:0");
    EXPECT_TRUE(layout.plan(list, all_cached).parts.empty());
}

TEST(ListLayout, AFailedWriteKeepsReusingThePartsLastCommitted) {
    ListLayout layout("/l", 100, 1);
    ListPlan first = layout.plan(three(), all_cached);
    layout.committed();
    const auto k = keys_written(first);

    ListPlan failed = layout.plan(three(1, 4, 3, 'B'), all_cached);
    ASSERT_EQ(failed.parts.size(), 1u);
    // No committed(): the head still names the first list's parts.

    ListPlan retry = layout.plan(three(1, 5, 3, 'C'), all_cached);
    ASSERT_EQ(retry.parts.size(), 1u);
    EXPECT_NE(retry.parts[0].key, failed.parts[0].key);
    EXPECT_EQ(manifest_keys(retry), (std::vector<std::string>{k[0], retry.parts[0].key, k[2]}));
    // The failed plan's part was removed by the writer; only the committed part is obsolete.
    EXPECT_EQ(retry.obsolete, (std::vector<std::string>{k[1]}));
    layout.committed();

    ListPlan after = layout.plan(three(1, 5, 3, 'C'), all_cached);
    EXPECT_TRUE(after.parts.empty());
    EXPECT_TRUE(after.obsolete.empty());
}

TEST(ListLayout, BackToASmallListMakesEveryPartObsolete) {
    ListLayout layout("/l", 100, 1);
    std::vector<ListSegment> big = {seg(1, body(30, true, false, 'a')),
                                    seg(2, body(250, false, true, 'b'))};
    ListPlan first = layout.plan(big, all_cached);
    layout.committed();

    std::vector<ListSegment> small = {seg(3, "[1, 2]")};
    ListPlan second = layout.plan(small, all_cached);
    EXPECT_EQ(second.head, "[1, 2]");
    EXPECT_TRUE(second.parts.empty());
    EXPECT_EQ(sorted(second.obsolete), sorted(keys_written(first)));
    layout.committed();

    ListPlan third = layout.plan(small, all_cached);
    EXPECT_TRUE(third.obsolete.empty());
}

TEST(ListLayout, AdoptedPartsAreDeletedAfterTheNextListAndTheirNumbersNotReused) {
    ListLayout layout("/articles", 100, 5);
    layout.adopt({"/articles:part:900:0", "/articles:part:900:1", "/other:part:999:0",
                  "/articlesX:part:999:0", "/articles:part:nonsense"});

    ListPlan plan = layout.plan(three(), all_cached);
    ASSERT_EQ(plan.parts.size(), 3u);
    for (const auto& k : keys_written(plan)) EXPECT_GT(generation_of(k), 900u) << k;
    // Keys under another prefix are not ours to delete.
    EXPECT_EQ(sorted(plan.obsolete),
              sorted({"/articles:part:900:0", "/articles:part:900:1", "/articles:part:nonsense"}));
    layout.committed();

    ListPlan next = layout.plan(three(), all_cached);
    EXPECT_TRUE(next.obsolete.empty());
}

TEST(ListLayout, AdoptedPartsStayObsoleteUntilAListIsCommitted) {
    ListLayout layout("/articles", 100, 5);
    layout.adopt({"/articles:part:7:0"});
    ListPlan failed = layout.plan({seg(1, "[]")}, all_cached);
    EXPECT_EQ(failed.obsolete, (std::vector<std::string>{"/articles:part:7:0"}));
    ListPlan retry = layout.plan({seg(1, "[]")}, all_cached);
    EXPECT_EQ(retry.obsolete, (std::vector<std::string>{"/articles:part:7:0"}));
    layout.committed();
    EXPECT_TRUE(layout.plan({seg(1, "[]")}, all_cached).obsolete.empty());
}

TEST(ListLayout, GenerationContinuesAboveTheAdoptedOneEvenWhenItStartedHigher) {
    ListLayout layout("/articles", 100, 5000);
    layout.adopt({"/articles:part:900:0"});
    ListPlan plan = layout.plan(three(), all_cached);
    for (const auto& k : keys_written(plan)) EXPECT_GT(generation_of(k), 5000u) << k;
}

// The writer reads its own manifest back after losing track of the cache (learn_cached_rows):
// the parts it still names must not be deleted under the new head.
TEST(ListLayout, AdoptingItsOwnPartsDoesNotDeleteThePartsItReuses) {
    ListLayout layout("/articles", 100, 5);
    ListPlan first = layout.plan(three(), all_cached);
    layout.committed();
    layout.adopt(manifest_keys(first));

    ListPlan second = layout.plan(three(1, 4, 3, 'B'), all_cached);
    const auto k = keys_written(first);
    EXPECT_EQ(manifest_keys(second),
              (std::vector<std::string>{k[0], second.parts.at(0).key, k[2]}));
    EXPECT_EQ(second.obsolete, (std::vector<std::string>{k[1]}));
}

// A store driven the way the applier drives it, with evictions and failed writes: part keys
// never repeat, and after every committed list the head reads back as the list.
TEST(ListLayout, PartKeysNeverRepeatAndTheStoreReadsBackTheList) {
    std::mt19937 rng(7);
    ListLayout layout("/l", 100, 1);
    std::map<std::string, std::string> store;
    std::set<std::string> seen;
    std::uint64_t version = 0;
    std::vector<ListSegment> list = {seg(++version, body(80, true, false)),
                                     seg(++version, body(150, false, false)),
                                     seg(++version, body(60, false, true))};
    for (int step = 0; step < 400; ++step) {
        const std::size_t i = rng() % list.size();
        const bool first = i == 0, last = i + 1 == list.size();
        list[i] = seg(++version, body(rng() % 8 == 0 ? 10 : 10 + rng() % 250, first, last,
                                      static_cast<char>('a' + step % 26)));
        if (rng() % 5 == 0 && !store.empty()) {  // Memcached evicts something
            auto it = store.begin();
            std::advance(it, rng() % store.size());
            store.erase(it);
        }
        ListPlan plan =
            layout.plan(list, [&](const std::string& key) { return store.count(key) > 0; });
        for (const auto& p : plan.parts) {
            EXPECT_TRUE(seen.insert(p.key).second) << p.key << " at step " << step;
            store[p.key] = std::string(p.value);
        }
        if (rng() % 4 == 0) {  // the write failed: the writer takes the head and new parts away
            store.erase("/l");
            for (const auto& p : plan.parts) store.erase(p.key);
            continue;
        }
        store["/l"] = plan.head;
        layout.committed();
        for (const auto& k : plan.obsolete) store.erase(k);

        std::string read = store["/l"];
        if (read.front() == '{') {
            read.clear();
            for (const auto& k : manifest_keys(plan)) {
                ASSERT_TRUE(store.count(k)) << k << " at step " << step;
                read += store[k];
            }
        }
        ASSERT_EQ(read, text_of(list)) << "at step " << step;
        // Nothing is left behind but the parts the head names.
        const bool chunked = plan.head.front() == '{';
        EXPECT_EQ(store.size() - 1, chunked ? manifest_keys(plan).size() : 0) << "at step " << step;
    }
}

TEST(ListLayout, ZeroMaxItemBytesMeansNoLimit) {
    ListLayout layout("/l", 0, 1);
    std::vector<ListSegment> list = {seg(1, body(5000, true, false)),
                                     seg(2, body(10, false, true))};
    ListPlan plan = layout.plan(list, all_cached);
    EXPECT_TRUE(plan.parts.empty());
    EXPECT_EQ(plan.head, text_of(list));
}

}  // namespace
}  // namespace revalidator::worker
