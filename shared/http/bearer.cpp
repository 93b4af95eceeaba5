#include "bearer.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "field_text.hpp"

namespace revalidator {

namespace {

static_assert(std::tuple_size_v<BearerAuth::Digest> == SHA256_DIGEST_LENGTH);

BearerAuth::Digest sha256(std::string_view s) {
    BearerAuth::Digest out;
    SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), out.data());
    return out;
}

}  // namespace

BearerAuth::BearerAuth(const std::vector<std::string>& secrets) {
    for (const auto& s : secrets) {
        if (!s.empty()) digests_.push_back(sha256(s));
    }
}

std::optional<std::string> BearerAuth::check(std::string_view authorization) const {
    if (authorization.empty()) return "missing Authorization header (want: Bearer <secret>)";
    // RFC 7235 §2.1: the scheme is case-insensitive ("bearer" too); the secret is not.
    constexpr std::string_view scheme = "bearer ";
    if (authorization.size() <= scheme.size() ||
        !http::iequals(authorization.substr(0, scheme.size()), scheme)) {
        return "Authorization header must use the Bearer scheme";
    }
    const Digest presented = sha256(authorization.substr(scheme.size()));
    bool match = false;
    for (const auto& d : digests_) {
        match |= CRYPTO_memcmp(d.data(), presented.data(), d.size()) == 0;
    }
    if (!match) return "bearer secret does not match";
    return std::nullopt;
}

}  // namespace revalidator
