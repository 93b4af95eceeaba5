// The ingress's CURVE settings as validate() sees them: both keys or neither, and the public key
// it derives from ours for the publishers (the checks of each value alone are
// ingress_options_test's).
#include "ingress_config.hpp"

#include <gtest/gtest.h>

namespace revalidator::ingress {
namespace {

constexpr const char* kServerPublic = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
constexpr const char* kSecret = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";

// The unit tests link no ZeroMQ: these stand for libzmq with and without CURVE support.
std::string derived_key(const std::string&) {
    return "derived public key";
}
std::string no_curve(const std::string&) {
    return "";
}

Config valid() {
    Config cfg;
    cfg.instance_id = "ingress-1";
    cfg.insecure_no_auth = true;
    return cfg;
}

TEST(IngressConfig, TheCurveSecretKeyGivesThePublicKeyOrSaysCurveIsMissing) {
    Config plain = valid();
    ASSERT_TRUE(validate(plain, no_curve).empty()) << "no key, no need for CURVE";
    EXPECT_EQ(plain.curve_public_key, "");

    Config curve = valid();
    curve.curve_server_key = kServerPublic;
    curve.curve_secret_key.value = kSecret;
    ASSERT_TRUE(validate(curve, derived_key).empty());
    EXPECT_EQ(curve.curve_public_key, "derived public key");

    curve.curve_public_key.clear();
    const auto problems = validate(curve, no_curve);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].option, "--curve-secret-key");
    EXPECT_EQ(problems[0].message, "this libzmq was built without CURVE support");
}

TEST(IngressConfig, AMalformedOrLoneCurveKeyIsNotDerived) {
    Config malformed = valid();
    malformed.curve_server_key = kServerPublic;
    malformed.curve_secret_key.value = "short";
    auto problems = validate(malformed, derived_key);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].option, "--curve-secret-key");
    EXPECT_EQ(malformed.curve_public_key, "");

    Config lone = valid();
    lone.curve_secret_key.value = kSecret;
    problems = validate(lone, derived_key);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].option, "--curve-server-key");
    EXPECT_EQ(lone.curve_public_key, "");
}

}  // namespace
}  // namespace revalidator::ingress
