// Standard Webhooks signatures (standardwebhooks.com): the sender signs
// "{webhook-id}.{webhook-timestamp}.{raw body}" with HMAC-SHA256 under the base64-decoded key of a
// `whsec_<base64>` secret and sends `webhook-signature: v1,<base64 MAC>` (a space-separated list;
// other versions are ignored). A request is genuine when a v1 entry matches a configured key
// (several keys: rotation), its timestamp is within the tolerance of our clock in either direction,
// and its id was not accepted before inside that window (ReplayCache). Checks run cheapest first;
// only an id whose MAC matched may enter the replay cache, so forgers cannot fill it. OpenSSL does
// the HMAC and base64; MACs are compared in constant time. The clock is injected for tests.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "replay_cache.hpp"
#include "runtime/result.hpp"

namespace revalidator::ingress {

// The decoded key bytes of one `whsec_...` secret.
struct SigningKey {
    std::string bytes;
};

inline constexpr std::size_t kMinSigningKeyBytes = 16;
inline constexpr std::size_t kMaxWebhookIdBytes = 256;

// Parses one `whsec_<base64>` secret. The error says what is wrong, never the secret itself.
Result<SigningKey, std::string> parse_signing_secret(std::string_view secret);
// Parses secrets separated by commas or whitespace (--signing-secret, --signing-secret-file).
Result<std::vector<SigningKey>, std::string> parse_signing_secrets(std::string_view list);

// The three headers as received; an absent header is empty.
struct WebhookHeaders {
    std::string_view id;
    std::string_view timestamp;
    std::string_view signature;

    bool any() const { return !id.empty() || !timestamp.empty() || !signature.empty(); }
};

enum class SignatureFault {
    MissingHeader,
    MalformedId,
    MalformedTimestamp,
    TimestampTooOld,
    TimestampTooNew,
    NoV1Signature,
    NoMatchingSignature,
    Replayed,
    ReplayCacheFull,
};

struct SignatureFailure {
    SignatureFault fault;
    std::string detail;  // names what was wrong; never contains a key or an expected MAC
};

using UnixClock = std::function<std::int64_t()>;  // unix seconds
std::int64_t system_unix_seconds();

class SignatureVerifier {
  public:
    struct Options {
        std::int64_t tolerance_s = 300;
        std::size_t replay_capacity = 100'000;
        UnixClock now = system_unix_seconds;
    };

    SignatureVerifier(std::vector<SigningKey> keys, Options options);

    // nullopt when the request is genuine and fresh; its id is then claimed in the replay cache
    // until its timestamp leaves the tolerance window.
    std::optional<SignatureFailure> verify(const WebhookHeaders& headers,
                                           std::string_view body) const;
    // Forgets a claimed id whose request was not queued after all (see ReplayCache::release).
    void release(std::string_view id) const { replay_.release(id); }

  private:
    std::vector<SigningKey> keys_;
    Options options_;
    mutable ReplayCache replay_;  // internally synchronised; verify() is safe from many threads
};

}  // namespace revalidator::ingress
