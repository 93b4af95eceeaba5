// BatchLoop: frames in, batches out, driven with in-memory fakes and no sockets. Backoff is
// observed through step()'s answer and by polling step() against a deadline, never by sleeping.
#include "batch_loop.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/clock.hpp"
#include "wire/wire.hpp"
#include "worker_fakes.hpp"

namespace revalidator::worker {
namespace {

using namespace std::chrono_literals;
using fakes::FakeSink;
using fakes::FakeSource;
using fakes::int_row;

struct Frame {
    std::uint64_t seq;
    std::string pk;
    Op op = Op::Update;
    std::string stream = "ingress-a";
    std::uint64_t epoch = 1;
    std::string table = "articles";
    std::string schema = "public";
};

std::string encode(const Frame& f) {
    return wire::encode(Event{f.stream, f.epoch, f.seq, unix_micros(), f.op, f.schema, f.table,
                              names_row(f.op) ? f.pk : ""});
}

std::vector<std::string> frames(std::initializer_list<Frame> fs) {
    std::vector<std::string> out;
    for (const auto& f : fs) out.push_back(encode(f));
    return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

class BatchLoopTest : public ::testing::Test {
  protected:
    FakeSource source;
    FakeSink sink;
    metrics::Registry registry;
    BatchLoopConfig cfg = fakes::quick_loop();

    // Built on first use, so that a test can change cfg first.
    BatchLoop& loop() {
        if (!loop_) {
            applier_ = std::make_unique<Applier>(source, sink, fakes::default_applier(), registry);
            loop_ = std::make_unique<BatchLoop>(*applier_, cfg, registry);
        }
        return *loop_;
    }

    // Calls step() until `done` holds or 10 s pass; returns done().
    bool step_until(const std::function<bool()>& done) {
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!done() && std::chrono::steady_clock::now() < deadline) loop().step();
        return done();
    }

    double metric(const std::string& series) const {
        return fakes::metric(registry.render(), series).value_or(-1);
    }

  private:
    std::unique_ptr<Applier> applier_;
    std::unique_ptr<BatchLoop> loop_;
};

TEST_F(BatchLoopTest, IngestedFramesAreAppliedByStep) {
    source.put(1, "one");
    source.put(2, "two");
    loop().ingest(frames({{1, "1"}, {2, "2"}, {3, "1"}}));
    EXPECT_EQ(loop().pending_keys(), 2u);
    EXPECT_TRUE(source.calls.empty());  // nothing is read before step()
    EXPECT_EQ(metric("revalidator_worker_pending_keys"), 2);

    auto wait = loop().step();

    ASSERT_EQ(source.calls.size(), 1u);
    EXPECT_FALSE(source.calls[0].full);
    EXPECT_EQ(sorted(source.calls[0].pks), (std::vector<std::string>{"1", "2"}));
    EXPECT_EQ(sink.at("/articles/1"), int_row(1, "one"));
    EXPECT_EQ(sink.at("/articles/2"), int_row(2, "two"));
    EXPECT_EQ(sink.at("/articles"), source.list());
    EXPECT_EQ(loop().pending_keys(), 0u);
    EXPECT_TRUE(loop().source_ok());
    EXPECT_TRUE(loop().cache_ok());
    EXPECT_GT(wait.count(), 0);  // idle: wait for frames
    EXPECT_EQ(metric("revalidator_worker_events_total"), 3);
    EXPECT_EQ(metric("revalidator_worker_stream_gaps_total"), 0);

    // Nothing pending: step() reads nothing.
    loop().step();
    EXPECT_EQ(source.calls.size(), 1u);
}

// A worker whose lease is not confirmed fresh stops in the middle of a batch: nothing after the
// fence is written, the whole batch stays owed, and it is no failure of the source.
TEST_F(BatchLoopTest, FencedBatchStopsWhereItIsAndStaysOwed) {
    for (int id = 1; id <= 5; ++id) source.put(id, "new");
    for (int id = 1; id <= 5; ++id)
        sink.store["/articles/" + std::to_string(id)] = int_row(id, "old");
    sink.writes_before_fence = 2;
    loop().ingest(frames({{1, "1"}, {2, "2"}, {3, "3"}, {4, "4"}, {5, "5"}}));
    loop().step();
    EXPECT_EQ(sink.sets, 2);
    EXPECT_EQ(loop().pending_keys(), 5u);
    EXPECT_TRUE(loop().source_ok());
    EXPECT_EQ(metric("revalidator_worker_fenced_total"), 1);
    EXPECT_EQ(metric("revalidator_worker_apply_failures_total"), 0);
    int old = 0;
    for (int id = 1; id <= 5; ++id)
        old += sink.at("/articles/" + std::to_string(id)) == int_row(id, "old");
    EXPECT_EQ(old, 3);

    // Lease fresh again: the owed batch is applied whole.
    sink.writes_before_fence = -1;
    ASSERT_TRUE(step_until([&] { return loop().pending_keys() == 0; }));
    for (int id = 1; id <= 5; ++id)
        EXPECT_EQ(sink.at("/articles/" + std::to_string(id)), int_row(id, "new")) << id;
    EXPECT_EQ(sink.at("/articles"), source.list());
}

TEST_F(BatchLoopTest, DeleteEventRemovesTheKey) {
    sink.store["/articles/3"] = int_row(3);
    loop().ingest(frames({{1, "3", Op::Delete}}));
    loop().step();
    EXPECT_FALSE(sink.has("/articles/3"));
    EXPECT_EQ(sink.at("/articles"), "[]");
}

TEST_F(BatchLoopTest, GapInSequenceTriggersAFullResync) {
    source.put(1);
    source.put(2);
    loop().ingest(frames({{1, "1"}}));
    loop().step();
    ASSERT_EQ(source.calls.size(), 1u);
    EXPECT_FALSE(source.calls[0].full);

    loop().ingest(frames({{3, "2"}}));  // seq 2 was lost
    loop().step();
    ASSERT_EQ(source.calls.size(), 2u);
    EXPECT_TRUE(source.calls[1].full);
    EXPECT_EQ(metric("revalidator_worker_stream_gaps_total"), 1);
    EXPECT_EQ(metric("revalidator_worker_resyncs_total"), 1);
    EXPECT_EQ(sink.at("/articles/2"), int_row(2));
}

TEST_F(BatchLoopTest, FirstEventMidStreamTriggersAFullResync) {
    source.put(1);
    loop().ingest(frames({{5, "1"}}));
    loop().step();
    ASSERT_EQ(source.calls.size(), 1u);
    EXPECT_TRUE(source.calls[0].full);
}

TEST_F(BatchLoopTest, CleanRestartNeedsNoResyncButACrashDoes) {
    source.put(1);
    loop().ingest(frames({{1, "1"}, {2, "", Op::End}}));
    loop().step();
    loop().ingest(frames({{.seq = 1, .pk = "1", .epoch = 2}}));  // after a clean END
    loop().step();
    ASSERT_EQ(source.calls.size(), 2u);
    EXPECT_FALSE(source.calls[1].full);

    loop().ingest(frames({{.seq = 1, .pk = "1", .epoch = 3}}));  // epoch 2 never ended
    loop().step();
    ASSERT_EQ(source.calls.size(), 3u);
    EXPECT_TRUE(source.calls[2].full);
}

TEST_F(BatchLoopTest, DuplicatesAndStaleEventsNeedNoResync) {
    source.put(1);
    loop().ingest(frames({{1, "1"}, {2, "1"}, {2, "1"}, {1, "1"}}));
    loop().step();
    ASSERT_EQ(source.calls.size(), 1u);
    EXPECT_FALSE(source.calls[0].full);
    EXPECT_EQ(metric("revalidator_worker_stream_gaps_total"), 0);
}

TEST_F(BatchLoopTest, EndMarkerNamesNoRow) {
    source.put(1);
    loop().ingest(frames({{1, "1"}, {2, "", Op::End}}));
    EXPECT_EQ(loop().pending_keys(), 1u);
    loop().step();
    ASSERT_EQ(source.calls.size(), 1u);
    EXPECT_EQ(source.calls[0].pks, (std::vector<std::string>{"1"}));
}

// A TRUNCATE reaches the worker as RESYNC: the whole table is read again, and the keys of the rows
// that are gone are deleted. It is no loss: no gap is counted.
TEST_F(BatchLoopTest, ResyncEventResyncsTheTable) {
    source.put(1);
    loop().ingest(frames({{1, "1"}}));
    loop().step();
    ASSERT_EQ(source.calls.size(), 1u);
    ASSERT_TRUE(sink.has("/articles/1"));

    source.table.clear();  // TRUNCATE
    loop().ingest(frames({{2, "", Op::Resync}}));
    EXPECT_EQ(loop().pending_keys(), 0u);
    loop().step();
    ASSERT_EQ(source.calls.size(), 2u);
    EXPECT_TRUE(source.calls[1].full);
    EXPECT_FALSE(sink.has("/articles/1"));
    EXPECT_EQ(sink.at("/articles"), "[]");
    EXPECT_EQ(metric("revalidator_worker_stream_gaps_total"), 0);
    EXPECT_EQ(metric("revalidator_worker_resyncs_total"), 1);
}

// What a worker that predates an op does with it (RESYNC, to a worker older than it): the frame is
// rejected, and the number it leaves missing is a gap at the next frame of the stream (a
// heartbeat within a second when the stream is idle), so that worker resyncs the table too.
TEST_F(BatchLoopTest, AnOpThisWorkerDoesNotKnowEndsInAResync) {
    source.put(1);
    loop().ingest(frames({{1, "1"}}));
    loop().step();
    ASSERT_EQ(source.calls.size(), 1u);

    loop().ingest(
        {R"({"epoch":1,"op":"REWIND","pk":"","schema":"public","seq":2,"stream":"ingress-a",)"
         R"("table":"articles","ts":1,"v":1})"});
    EXPECT_EQ(metric("revalidator_worker_frames_rejected_total"), 1);
    loop().ingest(frames({{3, "", Op::Heartbeat}}));
    loop().step();
    ASSERT_EQ(source.calls.size(), 2u);
    EXPECT_TRUE(source.calls[1].full);
    EXPECT_EQ(metric("revalidator_worker_stream_gaps_total"), 1);
}

TEST_F(BatchLoopTest, GarbageFramesAreCountedAndDoNotStopProcessing) {
    source.put(1);
    std::vector<std::string> batch = {
        "garbage",
        "",
        R"({"v":2,"stream":"a","epoch":1,"seq":1,"ts":1,"op":"UPDATE","schema":"public","table":"articles","pk":"1"})",
        R"({"v":1,"stream":"a","epoch":1,"seq":0,"ts":1,"op":"UPDATE","schema":"public","table":"articles","pk":"1"})",
    };
    std::mt19937 rng(7);
    for (int i = 0; i < 200; ++i) {
        std::string junk(rng() % 64, '\0');
        for (auto& c : junk) c = static_cast<char>(rng());
        batch.push_back(junk);
    }
    batch.push_back(encode({1, "1"}));
    batch.push_back("{not json either");

    ASSERT_NO_THROW(loop().ingest(batch));
    EXPECT_EQ(metric("revalidator_worker_frames_rejected_total"), 205);
    EXPECT_EQ(metric("revalidator_worker_events_total"), 1);
    EXPECT_EQ(loop().pending_keys(), 1u);

    loop().step();
    EXPECT_EQ(sink.at("/articles/1"), int_row(1));
}

TEST_F(BatchLoopTest, MarkersAreCountedApartFromRowEvents) {
    loop().ingest(frames(
        {{1, "1"}, {2, "", Op::Heartbeat}, {3, "", Op::Heartbeat}, {4, "2"}, {5, "", Op::End}}));
    EXPECT_EQ(metric("revalidator_worker_events_total"), 2);
    EXPECT_EQ(metric("revalidator_worker_heartbeats_total"), 2);
    EXPECT_EQ(metric("revalidator_worker_stream_ends_total"), 1);
    EXPECT_EQ(metric("revalidator_worker_stream_gaps_total"), 0) << "markers take their numbers";
}

TEST_F(BatchLoopTest, EventsForAnotherTableAreDropped) {
    source.put(1);
    loop().ingest(frames(
        {{.seq = 1, .pk = "1", .table = "users"}, {.seq = 2, .pk = "1", .schema = "private"}}));
    EXPECT_EQ(metric("revalidator_worker_events_foreign_total"), 2);
    EXPECT_EQ(metric("revalidator_worker_events_total"), 2);
    EXPECT_EQ(loop().pending_keys(), 0u);

    auto wait = loop().step();
    EXPECT_TRUE(source.calls.empty());
    EXPECT_TRUE(sink.store.empty());
    EXPECT_GT(wait.count(), 0);
}

TEST_F(BatchLoopTest, ThrowingSourceBacksOff) {
    cfg.retry_min = 60s;
    cfg.retry_max = 60s;
    source.put(1);
    source.fail = true;
    loop().ingest(frames({{1, "1"}}));

    auto wait = loop().step();

    EXPECT_EQ(source.calls.size(), 1u);
    EXPECT_GT(wait, 1s);  // the backoff, not a spin
    EXPECT_LE(wait, 61s);
    EXPECT_FALSE(loop().source_ok());
    EXPECT_EQ(loop().pending_keys(), 1u);  // the work is kept
    EXPECT_EQ(metric("revalidator_worker_apply_failures_total"), 1);
    EXPECT_TRUE(sink.store.empty());

    // Within the backoff, step() does not try again.
    source.fail = false;
    auto again = loop().step();
    EXPECT_EQ(source.calls.size(), 1u);
    EXPECT_GT(again, 1s);
    EXPECT_FALSE(sink.has("/articles/1"));
}

TEST_F(BatchLoopTest, WorkIsRetriedAndSucceedsOnceTheSourceIsBack) {
    source.put(1);
    source.put(2);
    source.fail = true;
    loop().ingest(frames({{1, "1"}, {2, "2"}}));
    loop().step();
    ASSERT_EQ(source.calls.size(), 1u);
    ASSERT_FALSE(loop().source_ok());

    // Still failing: retries happen, each one fails, nothing is lost.
    ASSERT_TRUE(step_until([&] { return source.calls.size() >= 3; }));
    EXPECT_EQ(loop().pending_keys(), 2u);
    EXPECT_GE(metric("revalidator_worker_apply_failures_total"), 3);

    source.fail = false;
    ASSERT_TRUE(step_until([&] { return sink.has("/articles/1") && sink.has("/articles/2"); }));
    EXPECT_EQ(sorted(source.calls.back().pks), (std::vector<std::string>{"1", "2"}));
    EXPECT_FALSE(source.calls.back().full);
    EXPECT_TRUE(loop().source_ok());
    EXPECT_EQ(loop().pending_keys(), 0u);
    EXPECT_EQ(sink.at("/articles"), source.list());
}

TEST_F(BatchLoopTest, FailedResyncIsRetriedAsAResync) {
    source.put(1);
    source.fail = true;
    loop().request_resync("start");
    loop().step();
    ASSERT_EQ(source.calls.size(), 1u);
    source.fail = false;
    ASSERT_TRUE(step_until([&] { return sink.has("/articles/1"); }));
    EXPECT_TRUE(source.calls.back().full);
}

TEST_F(BatchLoopTest, CacheOutageIsRetriedAsAFullResync) {
    source.put(1);
    sink.unreachable = true;
    loop().ingest(frames({{1, "1"}}));
    loop().step();
    ASSERT_EQ(source.calls.size(), 1u);
    EXPECT_FALSE(source.calls[0].full);
    EXPECT_FALSE(loop().cache_ok());
    EXPECT_TRUE(loop().source_ok());

    sink.unreachable = false;
    ASSERT_TRUE(step_until([&] { return sink.has("/articles/1"); }));
    EXPECT_TRUE(source.calls.back().full);
    EXPECT_TRUE(loop().cache_ok());
    EXPECT_EQ(sink.at("/articles"), source.list());
}

TEST_F(BatchLoopTest, RefusedValueIsRetriedUntilWritten) {
    source.put(1);
    sink.refuse = {"/articles/1"};
    loop().ingest(frames({{1, "1"}}));
    loop().step();
    EXPECT_FALSE(sink.has("/articles/1"));
    EXPECT_EQ(loop().pending_keys(), 1u);

    sink.refuse.clear();
    ASSERT_TRUE(step_until([&] { return sink.has("/articles/1"); }));
    EXPECT_EQ(loop().pending_keys(), 0u);
}

TEST_F(BatchLoopTest, RequestResyncReadsEverything) {
    source.put(1);
    source.put(2);
    loop().request_resync("admin");
    loop().step();
    ASSERT_EQ(source.calls.size(), 1u);
    EXPECT_TRUE(source.calls[0].full);
    EXPECT_EQ(sink.at("/articles/1"), int_row(1));
    EXPECT_EQ(sink.at("/articles/2"), int_row(2));
    EXPECT_EQ(sink.at("/articles"), source.list());

    // Done once: the next step has nothing to do.
    loop().step();
    EXPECT_EQ(source.calls.size(), 1u);
}

TEST_F(BatchLoopTest, RequestResyncFromAnotherThread) {
    source.put(1);
    loop();
    std::thread admin([&] { loop().request_resync("admin"); });
    admin.join();
    loop().step();
    ASSERT_EQ(source.calls.size(), 1u);
    EXPECT_TRUE(source.calls[0].full);
}

TEST_F(BatchLoopTest, PeriodicResync) {
    cfg.resync_interval = 1ms;
    source.put(1);
    ASSERT_TRUE(step_until([&] { return !source.calls.empty(); }));
    EXPECT_TRUE(source.calls[0].full);
    EXPECT_EQ(sink.at("/articles/1"), int_row(1));
}

TEST_F(BatchLoopTest, NoPeriodicResyncWhenDisabled) {
    source.put(1);
    for (int i = 0; i < 1000; ++i) loop().step();
    EXPECT_TRUE(source.calls.empty());
}

TEST_F(BatchLoopTest, CacheRestartTriggersAFullResync) {
    cfg.cache_check_interval = 0ms;  // look at every step
    source.put(1);
    sink.instance_id = "pid-1";
    loop().step();
    EXPECT_TRUE(source.calls.empty());

    // Memcached restarted empty: nothing failed, yet every key is gone.
    sink.store.clear();
    sink.instance_id = "pid-2";
    loop().step();
    ASSERT_EQ(source.calls.size(), 1u);
    EXPECT_TRUE(source.calls[0].full);
    EXPECT_EQ(sink.at("/articles/1"), int_row(1));
    EXPECT_EQ(sink.at("/articles"), source.list());

    loop().step();
    EXPECT_EQ(source.calls.size(), 1u);
}

TEST_F(BatchLoopTest, TooManyPendingKeysCollapseIntoAResync) {
    cfg.max_pending = 3;
    for (int i = 1; i <= 5; ++i) source.put(i);
    loop().ingest(frames({{1, "1"}, {2, "2"}, {3, "3"}, {4, "4"}, {5, "5"}}));
    EXPECT_LE(loop().pending_keys(), 3u);
    loop().step();
    ASSERT_EQ(source.calls.size(), 1u);
    EXPECT_TRUE(source.calls[0].full);
    for (int i = 1; i <= 5; ++i) EXPECT_EQ(sink.at("/articles/" + std::to_string(i)), int_row(i));
}

// Read ahead: a source and a sink that let a test watch the next batch's read while this batch's
// writes are in flight. The hooks run on the thread that reads or writes.
class WatchedSource : public RowSource {
  public:
    explicit WatchedSource(FakeSource& table) : table_(table) {}
    std::function<void(const std::vector<std::string>& pks)> before_read;
    Snapshot read(const std::vector<std::string>& pks, bool full, ListRows list) override {
        if (before_read) before_read(pks);
        return table_.read(pks, full, list);
    }

  private:
    FakeSource& table_;
};

class WatchedSink : public FakeSink {
  public:
    std::function<void(std::string_view key, std::string_view value)> on_set;
    WriteStatus set(std::string_view key, std::string_view value) override {
        if (on_set) on_set(key, value);
        return FakeSink::set(key, value);
    }
};

BatchLoopConfig read_ahead(BatchLoopConfig cfg) {
    cfg.read_ahead = true;
    return cfg;
}

class ReadAheadTest : public ::testing::Test {
  protected:
    FakeSource table;
    WatchedSource source{table};
    WatchedSink sink;
    metrics::Registry registry;
    BatchLoopConfig cfg = read_ahead(fakes::quick_loop());
    Applier applier{source, sink, fakes::default_applier(), registry};
    std::unique_ptr<BatchLoop> loop;
    int refills = 0;

    void SetUp() override {
        table.put(1, "one");
        table.put(2, "two");
    }
    void start() { loop = std::make_unique<BatchLoop>(applier, cfg, registry); }
    // A refill that hands over `later` once, as frames that arrived while a batch was read.
    BatchLoop::Refill once(std::vector<std::string> later) {
        return [this, later = std::move(later)] {
            return refills++ == 0 ? later : std::vector<std::string>{};
        };
    }
};

TEST_F(ReadAheadTest, TheNextBatchIsReadWhileThisOneIsWritten) {
    start();
    // The write of row 1 waits for the read of row 2 to start: in turn, it would wait in vain.
    std::promise<void> reading_two;
    auto read_started = reading_two.get_future();
    source.before_read = [&](const std::vector<std::string>& pks) {
        if (pks == std::vector<std::string>{"2"}) reading_two.set_value();
    };
    bool overlapped = false;
    sink.on_set = [&](std::string_view key, std::string_view) {
        if (key == "/articles/1")
            overlapped = read_started.wait_for(10s) == std::future_status::ready;
    };
    loop->ingest(frames({{1, "1"}}));
    auto wait = loop->step(once(frames({{2, "2"}})));
    EXPECT_TRUE(overlapped);
    EXPECT_EQ(sink.at("/articles/1"), int_row(1, "one"));
    EXPECT_EQ(wait.count(), 0);  // the next step writes what was read ahead
    EXPECT_FALSE(sink.store.count("/articles/2"));

    loop->step();
    EXPECT_EQ(sink.at("/articles/2"), int_row(2, "two"));
    EXPECT_EQ(sink.at("/articles"), table.list());
    EXPECT_EQ(loop->pending_keys(), 0u);
}

// A key in two batches in a row: the later batch reads after the earlier one and writes after it,
// so the key shows the newer row last.
TEST_F(ReadAheadTest, AKeyInTwoBatchesIsWrittenInBatchOrder) {
    start();
    int reads = 0;
    source.before_read = [&](const std::vector<std::string>&) {
        if (++reads == 2) table.put(1, "newer");  // committed between the two batches' reads
    };
    std::vector<std::string> written;
    sink.on_set = [&](std::string_view key, std::string_view value) {
        if (key == "/articles/1") written.emplace_back(value);
    };
    loop->ingest(frames({{1, "1"}}));
    loop->step(once(frames({{2, "1"}})));
    loop->step();
    EXPECT_EQ(written, (std::vector<std::string>{int_row(1, "one"), int_row(1, "newer")}));
    EXPECT_EQ(sink.at("/articles"), table.list());
}

TEST_F(ReadAheadTest, AFencedBatchPutsTheReadAheadBackToo) {
    start();
    sink.writes_before_fence = 0;
    loop->ingest(frames({{1, "1"}}));
    loop->step(once(frames({{2, "2"}})));
    EXPECT_EQ(refills, 1);
    EXPECT_EQ(loop->pending_keys(), 2u);  // the batch and the one read ahead, both owed
    EXPECT_EQ(fakes::metric(registry.render(), "revalidator_worker_fenced_total"), 1);

    sink.writes_before_fence = -1;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (loop->pending_keys() > 0 && std::chrono::steady_clock::now() < deadline) loop->step();
    EXPECT_EQ(sink.at("/articles/1"), int_row(1, "one"));
    EXPECT_EQ(sink.at("/articles/2"), int_row(2, "two"));
}

TEST_F(ReadAheadTest, AResyncOwedTakesTheReadAheadIn) {
    start();
    loop->ingest(frames({{1, "1"}}));
    loop->step(once(frames({{2, "2"}})));
    loop->request_resync("asked");
    loop->step();
    ASSERT_FALSE(table.calls.empty());
    EXPECT_TRUE(table.calls.back().full);
    EXPECT_EQ(sink.at("/articles/2"), int_row(2, "two"));
    EXPECT_EQ(loop->pending_keys(), 0u);
}

TEST_F(ReadAheadTest, FinishWritesTheReadAhead) {
    start();
    loop->ingest(frames({{1, "1"}}));
    loop->step(once(frames({{2, "2"}})));
    loop->finish();
    EXPECT_EQ(sink.at("/articles/2"), int_row(2, "two"));
    EXPECT_EQ(sink.at("/articles"), table.list());
    EXPECT_EQ(loop->pending_keys(), 0u);
}

TEST_F(ReadAheadTest, OffReadsAndWritesInTurn) {
    cfg.read_ahead = false;
    start();
    loop->ingest(frames({{1, "1"}}));
    loop->step(once(frames({{2, "2"}})));
    EXPECT_EQ(refills, 0);  // nothing is taken before the batch is written
    EXPECT_EQ(sink.at("/articles/1"), int_row(1, "one"));
    EXPECT_EQ(table.calls.size(), 1u);
}

}  // namespace
}  // namespace revalidator::worker

namespace revalidator::worker {
namespace {

// A canary beat is no row of the table: it is never read as one, and the canary is told of it
// only once everything owed when it arrived is in the cache (canary.hpp).
TEST_F(BatchLoopTest, ACanaryBeatIsToldOnceTheRowsBeforeItAreWritten) {
    int beats = 0;
    cfg.canary = "articles";
    cfg.beat_seen = [&] { ++beats; };
    source.put(1, "one");
    source.fail = true;
    loop().ingest(frames({{1, "1"},
                          {2, "articles", Op::Update, "ingress-a", 1, "canary", "revalidator"},
                          {3, "authors", Op::Update, "ingress-a", 1, "canary", "revalidator"}}));
    EXPECT_EQ(loop().pending_keys(), 1u) << "the beats are no rows";
    loop().step();
    EXPECT_EQ(beats, 0) << "row 1 is still owed: the beat is not in the cache yet";
    source.fail = false;
    ASSERT_TRUE(step_until([&] { return beats > 0; }));
    EXPECT_EQ(sink.at("/articles/1"), int_row(1, "one"));
    EXPECT_EQ(beats, 1) << "another collection's beat is not this one's";
    for (const auto& call : source.calls) {
        EXPECT_EQ(std::count(call.pks.begin(), call.pks.end(), "articles"), 0);
    }
    EXPECT_EQ(metric("revalidator_worker_stream_gaps_total"), 0) << "beats take their numbers";
}

}  // namespace
}  // namespace revalidator::worker
