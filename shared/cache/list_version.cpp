#include "cache/list_version.hpp"

#include <openssl/sha.h>

namespace revalidator {

namespace {
constexpr std::size_t kDigits = 32;
}

std::string version_key(std::string_view list_key) {
    return std::string(list_key) + ":version";
}

std::string list_version(std::string_view head) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(head.data()), head.size(), digest);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string version;
    version.reserve(kDigits);
    for (std::size_t i = 0; i < kDigits / 2; ++i) {
        version += kHex[digest[i] >> 4];
        version += kHex[digest[i] & 0xf];
    }
    return version;
}

bool is_list_version(std::string_view value) {
    if (value.size() != kDigits) return false;
    for (char c : value) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

}  // namespace revalidator
