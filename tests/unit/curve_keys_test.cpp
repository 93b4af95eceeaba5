// Z85 CURVE key validation (shared/wire/curve_keys.cpp), checked against the Z85 specification's
// example (ZeroMQ RFC 32) and the test keys published with libzmq.
#include <gtest/gtest.h>

#include "wire/curve_keys.hpp"

using namespace revalidator::curve;

namespace {

// Known-good keys from libzmq's test suite (tests/testutil_security.cpp).
constexpr const char* kPublic = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
constexpr const char* kSecret = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";

}  // namespace

TEST(CurveKeys, AcceptsValidKeys) {
    EXPECT_EQ(key_error(kPublic), std::nullopt);
    EXPECT_EQ(key_error(kSecret), std::nullopt);
    EXPECT_TRUE(decode_key(kPublic).has_value());
    EXPECT_EQ(key_error(std::string(40, '0')), std::nullopt);
}

TEST(CurveKeys, DecodesLikeTheSpecification) {
    // RFC 32: the bytes 86 4F D2 6F B5 59 F7 5B encode as "HelloWorld".
    std::string key = "HelloWorld" + std::string(30, '0');
    auto bytes = decode_key(key);
    ASSERT_TRUE(bytes.has_value());
    const std::uint8_t expected[] = {0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B};
    for (std::size_t i = 0; i < sizeof(expected); ++i) EXPECT_EQ((*bytes)[i], expected[i]) << i;
    for (std::size_t i = sizeof(expected); i < kKeyBytes; ++i) EXPECT_EQ((*bytes)[i], 0) << i;
}

TEST(CurveKeys, RejectsWrongLengthNamingTheLength) {
    for (std::string key : {std::string(), std::string(kPublic).substr(0, 39),
                            std::string(kPublic) + "0", std::string(kPublic) + kPublic}) {
        auto err = key_error(key);
        ASSERT_TRUE(err.has_value()) << key;
        EXPECT_NE(err->find("40"), std::string::npos) << *err;
        EXPECT_NE(err->find(std::to_string(key.size())), std::string::npos) << *err;
        EXPECT_FALSE(decode_key(key).has_value());
    }
}

TEST(CurveKeys, RejectsCharactersOutsideTheAlphabet) {
    for (char bad : {' ', '"', '\'', ',', ';', '_', '`', '|', '~', '\\', '\n', '\0'}) {
        std::string key = kSecret;
        key[12] = bad;
        auto err = key_error(key);
        ASSERT_TRUE(err.has_value()) << static_cast<int>(bad);
        EXPECT_NE(err->find("position 13"), std::string::npos) << *err;
        EXPECT_FALSE(decode_key(key).has_value());
    }
}

TEST(CurveKeys, RejectsGroupsAboveThirtyTwoBits) {
    // "%nSc0" is 2^32 - 1, the largest 5-character group; "%nSc1" overflows (zmq_z85_decode
    // rejects it too).
    EXPECT_EQ(key_error("%nSc0" + std::string(35, '0')), std::nullopt);
    auto max = decode_key("%nSc0" + std::string(35, '0'));
    ASSERT_TRUE(max.has_value());
    EXPECT_EQ((*max)[0], 0xFF);
    EXPECT_EQ((*max)[3], 0xFF);
    EXPECT_TRUE(key_error("%nSc1" + std::string(35, '0')).has_value());
    EXPECT_TRUE(key_error(std::string(35, '0') + "#####").has_value());
}

TEST(CurveKeys, ErrorsNeverContainTheKey) {
    std::string key = kSecret;
    key[39] = ' ';
    auto err = key_error(key);
    ASSERT_TRUE(err.has_value());
    EXPECT_EQ(err->find(key.substr(0, 10)), std::string::npos) << *err;
    auto short_err = key_error(std::string(kSecret).substr(0, 20));
    ASSERT_TRUE(short_err.has_value());
    EXPECT_EQ(short_err->find(std::string(kSecret).substr(0, 10)), std::string::npos);
}
