// The manifest of a list stored as parts: its exact bytes, and reading one back from the cache,
// where it is hostile input.
#include "cache/manifest.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace revalidator::manifest {
namespace {

TEST(Manifest, EncodesTheDocumentedFormat) {
    EXPECT_EQ(encode(1234, {"/a:part:7:0", "/a:part:8:0"}),
              R"({"bytes":1234,"chunked":true,"parts":["/a:part:7:0","/a:part:8:0"]})");
}

TEST(Manifest, AHeadIsAManifestWhenItStartsWithABrace) {
    EXPECT_TRUE(is_manifest(encode(1, {"/a:part:1:0"})));
    EXPECT_FALSE(is_manifest("[]"));
    EXPECT_FALSE(is_manifest(""));
}

TEST(Manifest, DecodesWhatItEncodes) {
    const std::vector<std::string> parts{"/a:part:7:0", "/a:part:7:1", "/a:part:9:0"};
    auto decoded = decode(encode(99, parts));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->parts, parts);
    EXPECT_TRUE(decoded->rejected.empty());
    EXPECT_EQ(decoded->bytes, 99u);
}

TEST(Manifest, BytesThatAreNotALengthAreLeftUnknown) {
    for (const char* head : {R"({"parts":[]})", R"({"bytes":-1,"parts":[]})",
                             R"({"bytes":"9","parts":[]})", R"({"bytes":1.5,"parts":[]})"}) {
        auto decoded = decode(head);
        ASSERT_TRUE(decoded) << head;
        EXPECT_FALSE(decoded->bytes) << head;
    }
}

TEST(Manifest, SomethingElseIsAnError) {
    for (const char* head : {"{", "{}", R"({"parts":"x"})", R"(["/a:part:1:0"])", "{\"parts\":"}) {
        EXPECT_FALSE(decode(head)) << head;
    }
}

TEST(Manifest, EntriesThatAreNotStringsArePassedOver) {
    auto decoded = decode(R"({"parts":[1,"/a:part:1:0",null,{"k":"v"}]})");
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->parts, std::vector<std::string>{"/a:part:1:0"});
    EXPECT_TRUE(decoded->rejected.empty());
}

TEST(Manifest, NamesThatCannotBeKeysAreRejectedWithTheirReason) {
    const std::string long_key(300, 'k');
    auto decoded = decode(R"({"parts":["/a:part:1:0","/a b","/a\r\nflush_all",")" + long_key +
                          R"(","/a:part:2:0"]})");
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->parts, (std::vector<std::string>{"/a:part:1:0", "/a:part:2:0"}));
    ASSERT_EQ(decoded->rejected.size(), 3u);
    EXPECT_EQ(decoded->rejected[0].key, "/a b");
    EXPECT_EQ(decoded->rejected[1].key, "/a\r\nflush_all");
    EXPECT_EQ(decoded->rejected[2].key, long_key);
    for (const auto& r : decoded->rejected) EXPECT_FALSE(r.reason.empty());
}

}  // namespace
}  // namespace revalidator::manifest
