#include "cache_key.hpp"

#include <cstdint>

namespace revalidator {

namespace {

// Length of the UTF-8 sequence starting at s[i], or 0 when it is not well-formed (overlongs,
// surrogates and code points past U+10FFFF included).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
    auto b = [&](std::size_t k) { return static_cast<std::uint8_t>(s[i + k]); };
    auto cont = [&](std::size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
    std::uint8_t c = b(0);
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (!cont(1) || !cont(2)) return 0;
        if (c == 0xE0 && b(1) < 0xA0) return 0;
        if (c == 0xED && b(1) > 0x9F) return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (!cont(1) || !cont(2) || !cont(3)) return 0;
        if (c == 0xF0 && b(1) < 0x90) return 0;
        if (c == 0xF4 && b(1) > 0x8F) return 0;
        return 4;
    }
    return 0;
}

std::optional<std::string> check_bytes(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        auto c = static_cast<std::uint8_t>(s[i]);
        if (c <= 0x20 || c == 0x7F) return "contains whitespace or a control character";
        std::size_t n = utf8_sequence(s, i);
        if (n == 0) return "is not valid UTF-8";
        i += n;
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> check_key_part(std::string_view id) {
    if (id.empty()) return "is empty";
    // The prefix and separator take some of the 250 bytes; keep ids to a length that leaves room.
    if (id.size() > kMaxKeyBytes - 50) return "is longer than 200 bytes";
    return check_bytes(id);
}

std::optional<std::string> check_key(std::string_view key) {
    if (key.empty()) return "is empty";
    if (key.size() > kMaxKeyBytes) return "is longer than 250 bytes";
    return check_bytes(key);
}

std::optional<std::string> check_prefix(std::string_view prefix) {
    if (prefix.empty() || prefix.front() != '/') return "must start with '/'";
    if (prefix.size() > 40) return "must be at most 40 bytes";
    if (auto bad = check_key_part(prefix)) return *bad;
    return std::nullopt;
}

Result<std::string, std::string> item_key(std::string_view prefix, std::string_view id) {
    if (auto bad = check_key_part(id)) return Err{"id " + *bad};
    std::string key;
    key.reserve(prefix.size() + 1 + id.size());
    key.append(prefix).push_back('/');
    key.append(id);
    return key;
}

Result<std::string, std::string> absent_key(std::string_view prefix, std::string_view id) {
    if (auto bad = check_key_part(id)) return Err{"id " + *bad};
    std::string key;
    key.reserve(prefix.size() + 8 + id.size());
    key.append(prefix).append(":absent/").append(id);
    return key;
}

}  // namespace revalidator
