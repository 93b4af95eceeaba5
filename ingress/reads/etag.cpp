#include "etag.hpp"

#include <openssl/sha.h>

namespace revalidator::ingress {

std::string etag_of(std::string_view bytes) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string tag = "\"";
    for (int i = 0; i < 16; ++i) {
        tag += kHex[digest[i] >> 4];
        tag += kHex[digest[i] & 0xf];
    }
    tag += '"';
    return tag;
}

std::string gzip_etag(std::string_view etag) {
    std::string tag(etag.substr(0, etag.size() - 1));
    return tag + "-gz\"";
}

bool none_match_hits(std::string_view field, std::string_view etag) {
    auto trim = [](std::string_view s) {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
        return s;
    };
    if (trim(field) == "*") return true;
    while (!field.empty()) {
        const auto comma = field.find(',');
        auto tag = trim(field.substr(0, comma));
        if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
        if (!tag.empty() && tag == etag) return true;
        if (comma == std::string_view::npos) break;
        field.remove_prefix(comma + 1);
    }
    return false;
}

}  // namespace revalidator::ingress
