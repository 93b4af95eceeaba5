// Authenticator with both kinds of credentials: bearer secret OR Standard Webhooks signature, a
// failing signature named rather than hidden behind the bearer check, 503 when the replay cache is
// full, and release() for requests that were authenticated but not queued.
#include <string>

#include <gtest/gtest.h>

#include "auth.hpp"
#include "webhook_signer.hpp"

namespace revalidator::ingress {
namespace {

using testing::kSpecBody;
using testing::kSpecId;
using testing::kSpecSecret;
using testing::kSpecSignature;
using testing::kSpecTimestamp;

SigningConfig spec_signing(std::size_t replay_capacity = 100'000) {
    auto key = parse_signing_secret(kSpecSecret);
    EXPECT_TRUE(key.ok());
    return {{*key}, {300, replay_capacity, [] { return std::int64_t{1614265330}; }}};
}

const WebhookHeaders kSpecHeaders{kSpecId, kSpecTimestamp, kSpecSignature};

void expect_rejected(const Result<Admission, Rejection>& r, int status, const std::string& code,
                     const std::string& in_detail) {
    ASSERT_FALSE(r.ok()) << "admitted";
    EXPECT_EQ(r.error().status, status);
    EXPECT_EQ(r.error().code, code);
    EXPECT_NE(r.error().detail.find(in_detail), std::string::npos) << r.error().detail;
}

TEST(AuthenticatorSignatures, BearerOrSignaturePasses) {
    Authenticator auth({"s3cret"}, false, spec_signing());
    EXPECT_TRUE(auth.configured());
    auto bearer = auth.admit({"Bearer s3cret", {}, kSpecBody});
    ASSERT_TRUE(bearer.ok()) << bearer.error().detail;
    EXPECT_TRUE(bearer->claimed_id.empty());
    auto signed_ok = auth.admit({"", kSpecHeaders, kSpecBody});
    ASSERT_TRUE(signed_ok.ok()) << signed_ok.error().detail;
    EXPECT_EQ(signed_ok->claimed_id, kSpecId);
}

TEST(AuthenticatorSignatures, FailingSignatureIsNamedEvenWithAGoodBearer) {
    Authenticator auth({"s3cret"}, false, spec_signing());
    expect_rejected(auth.admit({"Bearer s3cret", kSpecHeaders, "{}"}), 401, "unauthorized",
                    "no v1 signature");
    expect_rejected(auth.admit({"", {kSpecId, "", kSpecSignature}, kSpecBody}), 401, "unauthorized",
                    "missing webhook-timestamp header");
    expect_rejected(auth.admit({"", {kSpecId, "yesterday", kSpecSignature}, kSpecBody}), 401,
                    "unauthorized", "webhook-timestamp must be unix seconds");
}

TEST(AuthenticatorSignatures, ReplayIsUnauthorizedAndReleaseLetsTheRetryIn) {
    Authenticator auth({}, false, spec_signing());
    auto first = auth.admit({"", kSpecHeaders, kSpecBody});
    ASSERT_TRUE(first.ok()) << first.error().detail;
    expect_rejected(auth.admit({"", kSpecHeaders, kSpecBody}), 401, "unauthorized", "replay");
    auth.release(*first);
    EXPECT_TRUE(auth.admit({"", kSpecHeaders, kSpecBody}).ok());
}

TEST(AuthenticatorSignatures, FullReplayCacheIs503) {
    Authenticator auth({}, false, spec_signing(/*replay_capacity=*/1));
    std::string ts = kSpecTimestamp;
    std::string sig = testing::sign(kSpecSecret, "other", ts, "{}");
    ASSERT_TRUE(auth.admit({"", {"other", ts, sig}, "{}"}).ok());
    expect_rejected(auth.admit({"", kSpecHeaders, kSpecBody}), 503, "replay_cache_full",
                    "retry later");
}

TEST(AuthenticatorSignatures, SigningOnlyRefusesBearer) {
    Authenticator auth({}, false, spec_signing());
    EXPECT_TRUE(auth.configured());
    expect_rejected(auth.admit({"Bearer s3cret", {}, kSpecBody}), 401, "unauthorized",
                    "accepts only signed webhooks");
    auto r = auth.check("Bearer s3cret");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 401);
}

TEST(AuthenticatorSignatures, BearerFailureMentionsSigningWhenConfigured) {
    Authenticator auth({"s3cret"}, false, spec_signing());
    expect_rejected(auth.admit({"Bearer wrong", {}, kSpecBody}), 401, "unauthorized",
                    "does not match (or sign the request");
}

TEST(AuthenticatorSignatures, SignatureHeadersIgnoredWithoutSigningSecret) {
    Authenticator auth({"s3cret"}, false);
    EXPECT_TRUE(auth.admit({"Bearer s3cret", kSpecHeaders, kSpecBody}).ok());
    expect_rejected(auth.admit({"", kSpecHeaders, kSpecBody}), 401, "unauthorized",
                    "signature headers are ignored");
}

TEST(AuthenticatorSignatures, InsecureAdmitsEverythingAndClaimsNothing) {
    Authenticator auth({}, true, spec_signing());
    auto r = auth.admit({"", {kSpecId, "0", "v1,forged"}, kSpecBody});
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->claimed_id.empty());
}

}  // namespace
}  // namespace revalidator::ingress
