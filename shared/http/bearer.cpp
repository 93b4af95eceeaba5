#include "bearer.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>

namespace revalidator {

namespace {

std::string sha256(std::string_view s) {
    std::string out(SHA256_DIGEST_LENGTH, '\0');
    SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(),
           reinterpret_cast<unsigned char*>(out.data()));
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
        !std::equal(scheme.begin(), scheme.end(), authorization.begin(), [](char want, char got) {
            return want == std::tolower(static_cast<unsigned char>(got));
        })) {
        return "Authorization header must use the Bearer scheme";
    }
    std::string presented = sha256(authorization.substr(scheme.size()));
    bool match = false;
    for (const auto& d : digests_) {
        match |= CRYPTO_memcmp(d.data(), presented.data(), d.size()) == 0;
    }
    if (!match) return "bearer secret does not match";
    return std::nullopt;
}

}  // namespace revalidator
