#include "curve_keys.hpp"

namespace revalidator::curve {

namespace {

constexpr std::string_view kAlphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

// Value of a Z85 character, or -1.
int digit(char c) {
    auto pos = kAlphabet.find(c);
    return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

// Index of the first character that is not Z85 or that ends a group worth more than 2^32 - 1
// (zmq_z85_decode rejects both); npos when every group is valid.
std::size_t first_invalid(std::string_view z85) {
    for (std::size_t group = 0; group + 5 <= z85.size(); group += 5) {
        std::uint64_t value = 0;
        for (std::size_t i = group; i < group + 5; ++i) {
            int d = digit(z85[i]);
            if (d < 0) return i;
            value = value * 85 + static_cast<std::uint64_t>(d);
        }
        if (value > 0xFFFFFFFFu) return group + 4;
    }
    return std::string_view::npos;
}

}  // namespace

std::optional<std::array<std::uint8_t, kKeyBytes>> decode_key(std::string_view z85) {
    if (z85.size() != kKeyChars || first_invalid(z85) != std::string_view::npos)
        return std::nullopt;
    std::array<std::uint8_t, kKeyBytes> out{};
    for (std::size_t group = 0; group < kKeyChars / 5; ++group) {
        std::uint32_t value = 0;
        for (std::size_t i = 0; i < 5; ++i)
            value = value * 85 + static_cast<std::uint32_t>(digit(z85[group * 5 + i]));
        for (std::size_t b = 0; b < 4; ++b)
            out[group * 4 + b] = static_cast<std::uint8_t>(value >> (8 * (3 - b)));
    }
    return out;
}

std::optional<std::string> key_error(std::string_view z85) {
    if (z85.size() != kKeyChars) {
        return "must be a " + std::to_string(kKeyChars) + "-character Z85 CURVE key, got " +
               std::to_string(z85.size()) + " characters";
    }
    if (auto at = first_invalid(z85); at != std::string_view::npos) {
        return "is not a valid Z85 CURVE key (bad character or group at position " +
               std::to_string(at + 1) + ")";
    }
    return std::nullopt;
}

}  // namespace revalidator::curve
