// Who may send. Two kinds of credentials, each accepted when the operator configured it:
// - a shared secret in `Authorization: Bearer <secret>` (Supabase Database Webhooks are unsigned,
//   so this is what they can send); several secrets at once for rotation (BearerAuth);
// - a Standard Webhooks signature (webhook-id/-timestamp/-signature) under one of several
//   `whsec_` keys, with timestamp tolerance and replay protection (SignatureVerifier).
// A request passes with a valid bearer secret OR a valid signature. A request that carries
// signature headers while signing keys are configured is judged by its signature alone: if that
// fails it is a 401 naming why, never a silent fall-back to the bearer check that would hide the
// reason.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/bearer.hpp"
#include "runtime/result.hpp"
#include "signature.hpp"
#include "webhook.hpp"

namespace revalidator::ingress {

struct SigningConfig {
    std::vector<SigningKey> keys;  // none: signatures are not accepted
    SignatureVerifier::Options options;
};

// What a request presents: its headers and the raw body the signature covers.
struct Credentials {
    std::string_view authorization;
    WebhookHeaders webhook;
    std::string_view body;
};

// A request let in. `claimed_id` is the webhook-id it holds in the replay cache (empty when it
// passed another way); give it back with release() when the request is not queued after all.
struct Admission {
    std::string claimed_id;
};

class Authenticator {
  public:
    // `insecure` accepts every request; it must be asked for explicitly (--insecure-no-auth).
    Authenticator(std::vector<std::string> bearer_secrets, bool insecure,
                  SigningConfig signing = {});

    bool configured() const { return insecure_ || !bearer_.empty() || verifier_.has_value(); }

    // Judges a request: Admission, or a rejection (401; 503 when the replay cache is full).
    Result<Admission, Rejection> admit(const Credentials& request) const;
    // Judges a request that carries only an Authorization header: nullopt when it may pass.
    std::optional<Rejection> check(std::string_view authorization) const;
    void release(const Admission& admission) const;

  private:
    BearerAuth bearer_;
    std::optional<SignatureVerifier> verifier_;
    bool insecure_;
};

}  // namespace revalidator::ingress
