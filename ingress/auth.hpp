// Who may send: a shared secret in `Authorization: Bearer <secret>` (Supabase Database Webhooks are
// unsigned, so this is what they can send). Secrets are compared in constant time: both sides are
// hashed first so that neither the content nor the length of the secret leaks through timing.
// Several secrets may be active at once, so a secret can be rotated without dropping webhooks.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "webhook.hpp"

namespace revalidator::ingress {

class Authenticator {
  public:
    // `insecure` accepts every request; it must be asked for explicitly (--insecure-no-auth).
    Authenticator(std::vector<std::string> bearer_secrets, bool insecure);

    bool configured() const { return insecure_ || !digests_.empty(); }
    // nullopt when the request may pass; otherwise a 401 naming what was wrong.
    std::optional<Rejection> check(std::string_view authorization_header) const;

  private:
    std::vector<std::string> digests_;  // SHA-256 of each accepted secret
    bool insecure_;
};

}  // namespace revalidator::ingress
