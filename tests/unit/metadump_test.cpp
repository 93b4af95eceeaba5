// MetadumpReader: Memcached's `lru_crawler metadump` answer is input from the cache, parsed with
// the same suspicion as a webhook: split anywhere, malformed, endless, or not a dump at all.
#include "metadump.hpp"

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace revalidator::worker {
namespace {

using State = MetadumpReader::State;

const std::string kDump =
    "key=%2Farticles%2F7 exp=-1 la=1796366989 cas=1 fetch=no cls=1 size=72\n"
    "key=%2Farticles%3Apart%3A1%3A0 exp=-1 la=1796366989 cas=2 fetch=no cls=1 size=78\n"
    "key=%2Fauthors%2F7 exp=-1 la=1796366989 cas=3 fetch=no cls=1 size=64\n"
    "key=%2Farticles%2Fa%25b exp=-1 la=1796366989 cas=4 fetch=no cls=1 size=64\n"
    "END\r\n";

TEST(Metadump, KeysUnderThePrefixAreDecoded) {
    MetadumpReader r("/articles/", 100);
    EXPECT_EQ(r.feed(kDump), State::Done);
    EXPECT_EQ(r.take_keys(), (std::vector<std::string>{"/articles/7", "/articles/a%b"}));
}

TEST(Metadump, AnAnswerSplitAnywhereReadsTheSame) {
    for (std::size_t cut = 0; cut <= kDump.size(); ++cut) {
        MetadumpReader r("/articles/", 100);
        r.feed(std::string_view(kDump).substr(0, cut));
        ASSERT_EQ(r.feed(std::string_view(kDump).substr(cut)), State::Done) << cut;
        EXPECT_EQ(r.take_keys().size(), 2u) << cut;
    }
}

TEST(Metadump, AnEmptyCacheIsJustEnd) {
    MetadumpReader r("/articles/", 100);
    EXPECT_EQ(r.feed("END\r\n"), State::Done);
    EXPECT_TRUE(r.take_keys().empty());
}

// Another client's crawl holds the server's one crawler: neither a failure nor an empty cache.
TEST(Metadump, ABusyCrawlerIsItsOwnAnswer) {
    MetadumpReader r("/articles/", 100);
    EXPECT_EQ(r.feed("BUSY currently processing crawler request\r\n"), State::Busy);
    EXPECT_EQ(r.error(), "BUSY currently processing crawler request");
    EXPECT_TRUE(r.take_keys().empty());
    MetadumpReader late("/articles/", 100);
    EXPECT_EQ(late.feed("key=%2Farticles%2F7 exp=-1\nBUSY currently processing\r\n"),
              State::Failed);
    MetadumpReader trailing("/articles/", 100);
    EXPECT_EQ(trailing.feed("BUSY currently processing crawler request\r\nkey=%2Fa\n"),
              State::Failed);
}

TEST(Metadump, StatsSayWhetherTheCrawlerRuns) {
    const std::string stats =
        "STAT pid 1\r\nSTAT lru_crawler_running %s\r\n"
        "STAT lru_crawler_starts 2\r\nEND\r\n";
    auto with = [&](const char* v) {
        std::string s = stats;
        return s.replace(s.find("%s"), 2, v);
    };
    EXPECT_EQ(crawler_running(with("1")), true);
    EXPECT_EQ(crawler_running(with("0")), false);
    EXPECT_EQ(crawler_running(with("x")), std::nullopt);
    EXPECT_EQ(crawler_running("STAT pid 1\r\nEND\r\n"), std::nullopt);
    EXPECT_EQ(crawler_running("XSTAT lru_crawler_running 1\r\n"), std::nullopt);
}

// A server whose crawler another client holds, as dump_when_free sees it: `busy` BUSY answers,
// then the dump. Time is the test's: each pause moves it on.
class BusyCrawler {
  public:
    explicit BusyCrawler(int busy) : busy_(busy) {}
    std::vector<std::chrono::milliseconds> pauses;
    bool stopping = false;
    metrics::Counter busy_answers;
    std::chrono::steady_clock::time_point now{};

    MetadumpReader dump() {
        MetadumpReader r("/articles/", 100);
        r.feed(busy_-- > 0 ? "BUSY currently processing crawler request\r\n" : kDump);
        return r;
    }
    CrawlerWait wait() {
        return {.pause =
                    [this](std::chrono::milliseconds d) {
                        pauses.push_back(d);
                        now += d;
                        return !stopping;
                    },
                .now = [this] { return now; },
                .first_wait = std::chrono::milliseconds(50),
                .max_wait = std::chrono::milliseconds(200),
                .busy = &busy_answers};
    }

  private:
    int busy_;
};

TEST(CrawlerWait, ABusyCrawlerIsAskedAgainWithBackoffAndCounted) {
    using std::chrono::milliseconds;
    BusyCrawler server(4);
    auto got = dump_when_free([&] { return server.dump(); }, server.now + std::chrono::seconds(10),
                              server.wait());
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->state(), State::Done);
    EXPECT_EQ(got->take_keys(), (std::vector<std::string>{"/articles/7", "/articles/a%b"}));
    EXPECT_EQ(server.busy_answers.value(), 4u);
    EXPECT_EQ(server.pauses, (std::vector<milliseconds>{milliseconds(50), milliseconds(100),
                                                        milliseconds(200), milliseconds(200)}));
}

TEST(CrawlerWait, ACrawlerBusyUntilTheDeadlineListsNothingRatherThanNoKeys) {
    BusyCrawler server(1000);
    const auto deadline = server.now + std::chrono::seconds(1);
    EXPECT_FALSE(dump_when_free([&] { return server.dump(); }, deadline, server.wait()));
    EXPECT_LE(server.now, deadline) << "waited past the pass's deadline";
    EXPECT_GE(server.busy_answers.value(), 5u);
}

TEST(CrawlerWait, AStopEndsTheWait) {
    BusyCrawler server(1000);
    server.stopping = true;
    EXPECT_FALSE(dump_when_free([&] { return server.dump(); },
                                server.now + std::chrono::seconds(10), server.wait()));
    EXPECT_EQ(server.pauses.size(), 1u);
}

TEST(CrawlerWait, AServerAwayIsNoBusyCrawler) {
    BusyCrawler server(0);
    EXPECT_THROW(dump_when_free([]() -> MetadumpReader { throw std::runtime_error("refused"); },
                                server.now + std::chrono::seconds(10), server.wait()),
                 std::runtime_error);
    EXPECT_EQ(server.busy_answers.value(), 0u);
}

TEST(Metadump, MalformedEncodingsFailAndKeepNoKeys) {
    for (const char* bad : {"key=%2Farticles%2 exp=1\n", "key=%zz exp=1\n", "key= exp=1\n",
                            "key=%2Farticles%\n", "nonsense\n"}) {
        MetadumpReader r("/", 100);
        r.feed("key=%2Fok exp=1\n");
        EXPECT_EQ(r.feed(bad), State::Failed) << bad;
        EXPECT_TRUE(r.take_keys().empty()) << bad;
    }
}

TEST(Metadump, AnEndlessLineOrTooManyKeysFail) {
    MetadumpReader endless("/", 100);
    EXPECT_EQ(endless.feed("key=" + std::string(5000, 'a')), State::Failed);
    MetadumpReader many("/", 1);
    EXPECT_EQ(many.feed("key=%2Fa exp=1\nkey=%2Fb exp=1\n"), State::Failed);
    EXPECT_EQ(many.error(), "more than 1 keys");
}

TEST(Metadump, BytesAfterEndFail) {
    MetadumpReader r("/", 100);
    EXPECT_EQ(r.feed("END\r\nkey=%2Fa\n"), State::Failed);
}

}  // namespace
}  // namespace revalidator::worker
