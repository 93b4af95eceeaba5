#include "auth.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace revalidator::ingress {

namespace {

std::string sha256(std::string_view s) {
    std::string out(SHA256_DIGEST_LENGTH, '\0');
    SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(),
           reinterpret_cast<unsigned char*>(out.data()));
    return out;
}

}  // namespace

Authenticator::Authenticator(std::vector<std::string> bearer_secrets, bool insecure)
    : insecure_(insecure) {
    for (const auto& s : bearer_secrets) {
        if (!s.empty()) digests_.push_back(sha256(s));
    }
}

std::optional<Rejection> Authenticator::check(std::string_view authorization) const {
    if (insecure_) return std::nullopt;
    if (authorization.empty()) {
        return Rejection{401, "unauthorized",
                         "missing Authorization header (want: Bearer <secret>)"};
    }
    constexpr std::string_view scheme = "Bearer ";
    if (authorization.size() <= scheme.size() || authorization.substr(0, scheme.size()) != scheme) {
        return Rejection{401, "unauthorized", "Authorization header must use the Bearer scheme"};
    }
    std::string presented = sha256(authorization.substr(scheme.size()));
    bool match = false;
    for (const auto& d : digests_) {
        match |= CRYPTO_memcmp(d.data(), presented.data(), d.size()) == 0;
    }
    if (!match) return Rejection{401, "unauthorized", "bearer secret does not match"};
    return std::nullopt;
}

}  // namespace revalidator::ingress
