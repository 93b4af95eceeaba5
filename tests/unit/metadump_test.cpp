// MetadumpReader: Memcached's `lru_crawler metadump` answer is input from the cache, parsed with
// the same suspicion as a webhook: split anywhere, malformed, endless, or not a dump at all.
#include "metadump.hpp"

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

TEST(Metadump, TheServersRefusalIsTheError) {
    MetadumpReader r("/articles/", 100);
    EXPECT_EQ(r.feed("BUSY currently processing crawler request\r\n"), State::Failed);
    EXPECT_EQ(r.error(), "unexpected line: BUSY currently processing crawler request");
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
