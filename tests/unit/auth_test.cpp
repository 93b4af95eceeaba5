// Authenticator: `Authorization: Bearer <secret>` against one or more configured secrets.
#include "auth.hpp"

#include <string>

#include <gtest/gtest.h>

namespace revalidator::ingress {
namespace {

void expect_unauthorized(const Authenticator& auth, const std::string& header,
                         const std::string& in_detail) {
    auto r = auth.check(header);
    ASSERT_TRUE(r.has_value()) << "\"" << header << "\" was let through";
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(r->code, "unauthorized");
    EXPECT_FALSE(r->detail.empty());
    EXPECT_NE(r->detail.find(in_detail), std::string::npos)
        << "detail \"" << r->detail << "\" lacks \"" << in_detail << "\"";
}

TEST(Authenticator, RightSecretPasses) {
    Authenticator auth({"s3cret"}, false);
    EXPECT_FALSE(auth.check("Bearer s3cret").has_value());
}

TEST(Authenticator, WrongSecretFails) {
    Authenticator auth({"s3cret"}, false);
    expect_unauthorized(auth, "Bearer wrong", "does not match");
    expect_unauthorized(auth, "Bearer s3cre", "does not match");
    expect_unauthorized(auth, "Bearer s3cret ", "does not match");
    expect_unauthorized(auth, "Bearer s3cretX", "does not match");
    expect_unauthorized(auth, "Bearer S3CRET", "does not match");
    expect_unauthorized(auth, "Bearer  s3cret", "does not match");
}

TEST(Authenticator, MissingHeaderFails) {
    Authenticator auth({"s3cret"}, false);
    expect_unauthorized(auth, "", "missing Authorization header");
}

TEST(Authenticator, OtherSchemesFail) {
    Authenticator auth({"s3cret"}, false);
    expect_unauthorized(auth, "s3cret", "Bearer scheme");
    expect_unauthorized(auth, "Basic czNjcmV0", "Bearer scheme");
    expect_unauthorized(auth, "Token s3cret", "Bearer scheme");
    expect_unauthorized(auth, "Bearer", "Bearer scheme");
    expect_unauthorized(auth, "Bearer ", "Bearer scheme");
    expect_unauthorized(auth, "Bearers3cret", "Bearer scheme");
}

// RFC 7235 §2.1: the scheme is case-insensitive; the secret is not.
TEST(Authenticator, SchemeIsCaseInsensitive) {
    Authenticator auth({"s3cret"}, false);
    for (const char* header : {"bearer s3cret", "BEARER s3cret", "bEaReR s3cret"}) {
        EXPECT_FALSE(auth.check(header).has_value()) << header;
    }
    expect_unauthorized(auth, "bearer S3CRET", "does not match");
    expect_unauthorized(auth, "bearer", "Bearer scheme");
    expect_unauthorized(auth, "bearers3cret", "Bearer scheme");
}

// The worker's admin /resync uses BearerAuth alone.
TEST(BearerAuth, SchemeIsCaseInsensitive) {
    BearerAuth bearer({"admin"});
    EXPECT_FALSE(bearer.check("bearer admin").has_value());
    EXPECT_FALSE(bearer.check("BEARER admin").has_value());
    EXPECT_TRUE(bearer.check("bearer Admin").has_value());
    EXPECT_TRUE(bearer.check("Basic admin").has_value());
}

TEST(Authenticator, AnyOfSeveralSecretsPasses) {
    // Rotation: the old and the new secret are both accepted for a while.
    Authenticator auth({"old-secret", "new-secret"}, false);
    EXPECT_FALSE(auth.check("Bearer old-secret").has_value());
    EXPECT_FALSE(auth.check("Bearer new-secret").has_value());
    expect_unauthorized(auth, "Bearer other", "does not match");
}

TEST(Authenticator, EmptySecretsAreIgnored) {
    Authenticator auth({"", "real"}, false);
    EXPECT_TRUE(auth.configured());
    EXPECT_FALSE(auth.check("Bearer real").has_value());
    // An empty secret must never become "any empty bearer token passes".
    expect_unauthorized(auth, "Bearer ", "Bearer scheme");
}

TEST(Authenticator, NoSecretRejectsEverything) {
    Authenticator auth({}, false);
    expect_unauthorized(auth, "Bearer anything", "does not match");
    expect_unauthorized(auth, "", "missing");
}

TEST(Authenticator, InsecureModePassesAnything) {
    Authenticator auth({}, true);
    EXPECT_FALSE(auth.check("").has_value());
    EXPECT_FALSE(auth.check("Bearer whatever").has_value());
    EXPECT_FALSE(auth.check("Basic abc").has_value());
    EXPECT_FALSE(auth.check("garbage \x01\xff").has_value());
}

TEST(Authenticator, InsecureModeWithSecretStillPassesAnything) {
    Authenticator auth({"s3cret"}, true);
    EXPECT_FALSE(auth.check("Bearer wrong").has_value());
    EXPECT_FALSE(auth.check("").has_value());
}

TEST(Authenticator, Configured) {
    EXPECT_FALSE(Authenticator({}, false).configured());
    EXPECT_FALSE(Authenticator({""}, false).configured());
    EXPECT_FALSE(Authenticator({"", ""}, false).configured());
    EXPECT_TRUE(Authenticator({"s"}, false).configured());
    EXPECT_TRUE(Authenticator({}, true).configured());
    EXPECT_TRUE(Authenticator({"s"}, true).configured());
}

TEST(Authenticator, LongAndBinarySecrets) {
    std::string long_secret(4096, 'k');
    std::string binary("a\0b", 3);
    Authenticator auth({long_secret, binary}, false);
    EXPECT_FALSE(auth.check("Bearer " + long_secret).has_value());
    EXPECT_FALSE(auth.check("Bearer " + binary).has_value());
    expect_unauthorized(auth, "Bearer a", "does not match");
    expect_unauthorized(auth, "Bearer " + long_secret.substr(1), "does not match");
}

}  // namespace
}  // namespace revalidator::ingress
