// Bearer-secret authentication: `Authorization: Bearer <secret>` (the scheme in any case),
// checked against one or more accepted secrets (several at once, so a secret can be rotated
// without refusing requests).
// Both sides are hashed before a constant-time compare, so neither the content nor the length of
// a secret leaks through timing.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace revalidator {

class BearerAuth {
  public:
    using Digest = std::array<unsigned char, 32>;  // SHA-256

    explicit BearerAuth(const std::vector<std::string>& secrets);

    bool empty() const { return digests_.empty(); }
    // nullopt when `authorization` carries an accepted secret; otherwise what was wrong.
    std::optional<std::string> check(std::string_view authorization) const;

  private:
    std::vector<Digest> digests_;  // of each accepted secret
};

}  // namespace revalidator
