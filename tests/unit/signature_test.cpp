// Standard Webhooks verification: the specification's published vector, rotation, tampering,
// timestamp tolerance, replays, the bound on the replay cache, and malformed input of every kind.
#include "signature.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "webhook_signer.hpp"

namespace revalidator::ingress {
namespace {

using testing::kSpecBody;
using testing::kSpecId;
using testing::kSpecSecret;
using testing::kSpecSignature;
using testing::kSpecTimestamp;
using testing::sign;

constexpr std::int64_t kSpecTime = 1614265330;
const std::string kSecondSecret = "whsec_c2Vjb25kLWtleS1mb3Itcm90YXRpb24h";
const std::string kUnconfiguredSecret = "whsec_YS10aGlyZC1rZXktbmV2ZXItY29uZmlndXJlZC1vaw==";

SigningKey key(const std::string& secret) {
    auto k = parse_signing_secret(secret);
    EXPECT_TRUE(k.ok()) << k.error();
    return k.ok() ? *k : SigningKey{};
}

// A verifier whose clock reads `*now`.
struct Fixture {
    std::int64_t now = kSpecTime;
    SignatureVerifier verifier;

    explicit Fixture(std::vector<std::string> secrets = {kSpecSecret},
                     std::size_t replay_capacity = 100'000)
        : verifier(keys(secrets), {300, replay_capacity, [this] { return now; }}) {}

    static std::vector<SigningKey> keys(const std::vector<std::string>& secrets) {
        std::vector<SigningKey> out;
        for (const auto& s : secrets) out.push_back(key(s));
        return out;
    }

    std::optional<SignatureFailure> verify(const std::string& id, const std::string& ts,
                                           const std::string& sig, const std::string& body) {
        return verifier.verify({id, ts, sig}, body);
    }
};

void expect_fault(const std::optional<SignatureFailure>& f, SignatureFault want,
                  const std::string& in_detail = "") {
    ASSERT_TRUE(f.has_value()) << "accepted";
    EXPECT_EQ(f->fault, want) << f->detail;
    EXPECT_NE(f->detail.find(in_detail), std::string::npos) << f->detail;
}

TEST(Signature, SpecificationVector) {
    EXPECT_EQ(sign(kSpecSecret, kSpecId, kSpecTimestamp, kSpecBody), kSpecSignature);
    Fixture fx;
    auto f = fx.verify(kSpecId, kSpecTimestamp, kSpecSignature, kSpecBody);
    EXPECT_FALSE(f.has_value()) << f->detail;
}

TEST(Signature, OneMatchingEntryAmongSeveralIsEnough) {
    Fixture fx;
    std::string good = kSpecSignature;
    std::string header = "v1,Zm9vYmFy v2,abc " + good + " v1a,xyz";
    EXPECT_FALSE(fx.verify(kSpecId, kSpecTimestamp, header, kSpecBody).has_value());
}

TEST(Signature, OtherVersionsAreIgnored) {
    Fixture fx;
    // The right MAC under another version label does not count.
    std::string v2 = "v2," + std::string(kSpecSignature).substr(3);
    expect_fault(fx.verify(kSpecId, kSpecTimestamp, v2, kSpecBody), SignatureFault::NoV1Signature,
                 "no 'v1,<base64>' entry");
    expect_fault(fx.verify(kSpecId, kSpecTimestamp, "v1a,x v1", kSpecBody),
                 SignatureFault::NoV1Signature);
}

TEST(Signature, RotationAcceptsEachConfiguredSecret) {
    Fixture fx({kSpecSecret, kSecondSecret});
    EXPECT_FALSE(
        fx.verify("msg_a", kSpecTimestamp, sign(kSpecSecret, "msg_a", kSpecTimestamp, "{}"), "{}")
            .has_value());
    EXPECT_FALSE(
        fx.verify("msg_b", kSpecTimestamp, sign(kSecondSecret, "msg_b", kSpecTimestamp, "{}"), "{}")
            .has_value());
    expect_fault(fx.verify("msg_c", kSpecTimestamp,
                           sign(kUnconfiguredSecret, "msg_c", kSpecTimestamp, "{}"), "{}"),
                 SignatureFault::NoMatchingSignature, "no v1 signature");
}

TEST(Signature, TamperingIsDetected) {
    Fixture fx;
    std::string body = kSpecBody;
    expect_fault(fx.verify(kSpecId, kSpecTimestamp, kSpecSignature, R"({"test": 2432232315})"),
                 SignatureFault::NoMatchingSignature);
    expect_fault(fx.verify(kSpecId, kSpecTimestamp, kSpecSignature, body + " "),
                 SignatureFault::NoMatchingSignature);
    expect_fault(fx.verify("msg_p5jXN8AQM9LWM0D4loKWxJel", kSpecTimestamp, kSpecSignature, body),
                 SignatureFault::NoMatchingSignature);
    expect_fault(fx.verify(kSpecId, "1614265331", kSpecSignature, body),
                 SignatureFault::NoMatchingSignature);
    // One flipped character in the MAC, and the MAC without its padding.
    std::string flipped = kSpecSignature;
    flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
    expect_fault(fx.verify(kSpecId, kSpecTimestamp, flipped, body),
                 SignatureFault::NoMatchingSignature);
    std::string unpadded =
        std::string(kSpecSignature).substr(0, std::string(kSpecSignature).size() - 1);
    expect_fault(fx.verify(kSpecId, kSpecTimestamp, unpadded, body),
                 SignatureFault::NoMatchingSignature);
    // None of these left an id behind: the genuine request still passes.
    EXPECT_FALSE(fx.verify(kSpecId, kSpecTimestamp, kSpecSignature, body).has_value());
}

TEST(Signature, MalformedSignatureEntriesNeverMatch) {
    Fixture fx;
    std::vector<std::string> headers = {"v1,",
                                        "v1,!!!!not-base64!!!!",
                                        "v1,====",
                                        "v1, ",
                                        "   ",
                                        std::string(kSpecSignature) + "\x01",
                                        std::string("v1,\0\0\0", 6),
                                        "v1," + std::string(5000, 'A')};
    for (const auto& header : headers) {
        auto f = fx.verify(kSpecId, kSpecTimestamp, header, kSpecBody);
        ASSERT_TRUE(f.has_value()) << header;
        EXPECT_TRUE(f->fault == SignatureFault::NoMatchingSignature ||
                    f->fault == SignatureFault::NoV1Signature)
            << header << ": " << f->detail;
    }
}

TEST(Signature, TimestampToleranceBothWays) {
    Fixture fx;
    auto at = [&](std::int64_t ts, const std::string& id) {
        std::string t = std::to_string(ts);
        return fx.verify(id, t, sign(kSpecSecret, id, t, "{}"), "{}");
    };
    fx.now = kSpecTime;
    EXPECT_FALSE(at(kSpecTime - 300, "edge-old").has_value());
    EXPECT_FALSE(at(kSpecTime + 300, "edge-new").has_value());
    expect_fault(at(kSpecTime - 301, "old"), SignatureFault::TimestampTooOld,
                 "301 s in the past (tolerance 300 s)");
    expect_fault(at(kSpecTime + 301, "new"), SignatureFault::TimestampTooNew,
                 "301 s in the future (tolerance 300 s)");
    expect_fault(at(0, "epoch"), SignatureFault::TimestampTooOld);
    expect_fault(at(999'999'999'999'999, "far"), SignatureFault::TimestampTooNew);
    // The published vector is years old against the real clock.
    SignatureVerifier real({key(kSpecSecret)}, {});
    expect_fault(real.verify({kSpecId, kSpecTimestamp, kSpecSignature}, kSpecBody),
                 SignatureFault::TimestampTooOld);
}

TEST(Signature, MalformedTimestamps) {
    Fixture fx;
    for (std::string ts : {"abc", "-5", "+1614265330", " 1614265330", "1614265330 ", "1614265330.0",
                           "1.6e9", "0x60378A72", "1614265330000000000000", "１２３"}) {
        expect_fault(fx.verify(kSpecId, ts, sign(kSpecSecret, kSpecId, ts, kSpecBody), kSpecBody),
                     SignatureFault::MalformedTimestamp, "unix seconds");
    }
}

TEST(Signature, MissingHeadersAreNamed) {
    Fixture fx;
    expect_fault(fx.verify("", kSpecTimestamp, kSpecSignature, kSpecBody),
                 SignatureFault::MissingHeader, "missing webhook-id header");
    expect_fault(fx.verify(kSpecId, "", kSpecSignature, kSpecBody), SignatureFault::MissingHeader,
                 "missing webhook-timestamp header");
    expect_fault(fx.verify(kSpecId, kSpecTimestamp, "", kSpecBody), SignatureFault::MissingHeader,
                 "missing webhook-signature header");
}

TEST(Signature, OverlongIdIsRefused) {
    Fixture fx;
    std::string id(kMaxWebhookIdBytes + 1, 'i');
    expect_fault(fx.verify(id, kSpecTimestamp, sign(kSpecSecret, id, kSpecTimestamp, "{}"), "{}"),
                 SignatureFault::MalformedId, "longer than 256 bytes");
    id.pop_back();
    EXPECT_FALSE(fx.verify(id, kSpecTimestamp, sign(kSpecSecret, id, kSpecTimestamp, "{}"), "{}")
                     .has_value());
}

TEST(Signature, ReplayIsRejectedInsideTheWindowOnly) {
    Fixture fx;
    EXPECT_FALSE(fx.verify(kSpecId, kSpecTimestamp, kSpecSignature, kSpecBody).has_value());
    expect_fault(fx.verify(kSpecId, kSpecTimestamp, kSpecSignature, kSpecBody),
                 SignatureFault::Replayed, "already accepted");
    // The same id re-signed with a fresh timestamp is still a replay inside the window.
    fx.now = kSpecTime + 200;
    std::string ts = std::to_string(fx.now);
    expect_fault(fx.verify(kSpecId, ts, sign(kSpecSecret, kSpecId, ts, kSpecBody), kSpecBody),
                 SignatureFault::Replayed);
    // The captured request itself ages out: the timestamp check refuses it from now on...
    fx.now = kSpecTime + 301;
    expect_fault(fx.verify(kSpecId, kSpecTimestamp, kSpecSignature, kSpecBody),
                 SignatureFault::TimestampTooOld);
    // ...and the id is free again for a genuinely new delivery.
    ts = std::to_string(fx.now);
    EXPECT_FALSE(
        fx.verify(kSpecId, ts, sign(kSpecSecret, kSpecId, ts, kSpecBody), kSpecBody).has_value());
}

TEST(Signature, ReleasedIdIsAcceptedAgain) {
    Fixture fx;
    EXPECT_FALSE(fx.verify(kSpecId, kSpecTimestamp, kSpecSignature, kSpecBody).has_value());
    fx.verifier.release(kSpecId);
    EXPECT_FALSE(fx.verify(kSpecId, kSpecTimestamp, kSpecSignature, kSpecBody).has_value());
    expect_fault(fx.verify(kSpecId, kSpecTimestamp, kSpecSignature, kSpecBody),
                 SignatureFault::Replayed);
}

TEST(Signature, ReplayCacheBoundHolds) {
    Fixture fx({kSpecSecret}, /*replay_capacity=*/3);
    auto deliver = [&](const std::string& id) {
        std::string ts = std::to_string(fx.now);
        return fx.verify(id, ts, sign(kSpecSecret, id, ts, "{}"), "{}");
    };
    for (std::string id : {"a", "b", "c"}) EXPECT_FALSE(deliver(id).has_value()) << id;
    expect_fault(deliver("d"), SignatureFault::ReplayCacheFull, "retry later");
    // Full never means forgetting a live id: "a" is still a replay.
    expect_fault(deliver("a"), SignatureFault::Replayed);
    // Forged requests do not count against the bound (and get their own answer).
    expect_fault(fx.verify("e", std::to_string(fx.now), "v1,AAAA", "{}"),
                 SignatureFault::NoMatchingSignature);
    // Once the window has passed the entries expire and room comes back.
    fx.now += 301;
    EXPECT_FALSE(deliver("d").has_value());
    EXPECT_FALSE(deliver("a").has_value());
}

TEST(Signature, ConcurrentDuplicatesAdmitExactlyOne) {
    Fixture fx;
    std::atomic<int> admitted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 200; ++i) {
                std::string id = "msg_" + std::to_string(i);
                std::string sig = sign(kSpecSecret, id, kSpecTimestamp, "{}");
                if (!fx.verify(id, kSpecTimestamp, sig, "{}")) ++admitted;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(admitted.load(), 200);
}

TEST(ReplayCache, ClaimExpireRelease) {
    ReplayCache cache(2);
    EXPECT_EQ(cache.claim("a", 100, 0), ReplayCache::Claim::Fresh);
    EXPECT_EQ(cache.claim("a", 100, 0), ReplayCache::Claim::Replayed);
    EXPECT_EQ(cache.claim("b", 50, 0), ReplayCache::Claim::Fresh);
    EXPECT_EQ(cache.claim("c", 100, 0), ReplayCache::Claim::Full);
    EXPECT_EQ(cache.size(), 2u);
    // An entry lives through its expiry second and is gone after it.
    EXPECT_EQ(cache.claim("b", 150, 50), ReplayCache::Claim::Replayed);
    EXPECT_EQ(cache.claim("c", 100, 51), ReplayCache::Claim::Fresh);
    EXPECT_EQ(cache.size(), 2u);
    cache.release("a");
    cache.release("never-claimed");
    EXPECT_EQ(cache.size(), 1u);
    EXPECT_EQ(cache.claim("a", 100, 51), ReplayCache::Claim::Fresh);
    EXPECT_EQ(cache.claim("z", 100, 101), ReplayCache::Claim::Fresh);  // a and c expired
    EXPECT_EQ(cache.size(), 1u);
}

TEST(ReplayCache, SameExpiryManyIdsAndChurnStayBounded) {
    ReplayCache cache(1000);
    for (int i = 0; i < 5000; ++i) {
        std::string id = std::to_string(i);
        auto c = cache.claim(id, 10, 0);
        EXPECT_EQ(c, i < 1000 ? ReplayCache::Claim::Fresh : ReplayCache::Claim::Full);
        EXPECT_LE(cache.size(), 1000u);
    }
    for (int i = 0; i < 5000; ++i) {
        cache.release(std::to_string(i % 1000));
        EXPECT_EQ(cache.claim("churn" + std::to_string(i), 10, 0), ReplayCache::Claim::Fresh);
        cache.release("churn" + std::to_string(i));
        EXPECT_EQ(cache.claim(std::to_string(i % 1000), 10, 0), ReplayCache::Claim::Fresh);
    }
    EXPECT_EQ(cache.size(), 1000u);
    EXPECT_EQ(cache.claim("late", 20, 11), ReplayCache::Claim::Fresh);
    EXPECT_EQ(cache.size(), 1u);
}

TEST(SigningSecret, ParsesTheSpecSecret) {
    auto k = parse_signing_secret(kSpecSecret);
    ASSERT_TRUE(k.ok()) << k.error();
    EXPECT_EQ(k->bytes.size(), 24u);
    auto padded = parse_signing_secret("whsec_YS10aGlyZC1rZXktbmV2ZXItY29uZmlndXJlZC1vaw==");
    ASSERT_TRUE(padded.ok()) << padded.error();
    EXPECT_EQ(padded->bytes, "a-third-key-never-configured-ok");
}

TEST(SigningSecret, BadFormatsAreNamedWithoutEchoingTheSecret) {
    struct Case {
        std::string secret;
        std::string reason;
    };
    for (const auto& c : std::vector<Case>{
             {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must start with 'whsec_'"},
             {"WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must start with 'whsec_'"},
             {"whsec_", "not padded standard base64"},
             {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "not padded standard base64"},
             {"whsec_MfKQ9r8GKYqrTwjU-D8ILPZIo2LaLaSw", "not padded standard base64"},
             {"whsec_MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaS", "not padded standard base64"},
             {"whsec_MfKQ9r8GKYqr=wjUPD8ILPZIo2LaLaSw", "not padded standard base64"},
             {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaL===", "not padded standard base64"},
             {"whsec_========", "not padded standard base64"},
             {"whsec_ZmlmdGVlbi1ieXRlLWtl", "shorter than 16 bytes"},
         }) {
        auto k = parse_signing_secret(c.secret);
        ASSERT_FALSE(k.ok()) << c.secret;
        EXPECT_NE(k.error().find(c.reason), std::string::npos) << c.secret << ": " << k.error();
        EXPECT_EQ(k.error().find("MfKQ9r8GKYqr"), std::string::npos) << k.error();
    }
    EXPECT_TRUE(parse_signing_secret("whsec_c2l4dGVlbi1ieXRlLWtleQ==").ok());  // 16 bytes
}

TEST(SigningSecret, ListsSeparatedByCommasOrWhitespace) {
    auto two = parse_signing_secrets(std::string(kSpecSecret) + "," + kSecondSecret + "\n");
    ASSERT_TRUE(two.ok()) << two.error();
    EXPECT_EQ(two->size(), 2u);
    auto spaced = parse_signing_secrets(" " + kSecondSecret + " ,\n" + kSpecSecret + "\n\n");
    ASSERT_TRUE(spaced.ok()) << spaced.error();
    EXPECT_EQ(spaced->size(), 2u);
    auto none = parse_signing_secrets("");
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->empty());
    auto bad = parse_signing_secrets(std::string(kSpecSecret) + ",hunter2");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().find("signing secret #2"), std::string::npos) << bad.error();
    EXPECT_EQ(bad.error().find("hunter2"), std::string::npos) << bad.error();
}

}  // namespace
}  // namespace revalidator::ingress
