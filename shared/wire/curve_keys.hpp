// ZeroMQ CURVE keys as they appear in options: 40 characters of Z85 (ZeroMQ's base-85 text form)
// encoding a 32-byte key. Checked at startup so that a truncated or mistyped key is a clear error
// naming the option rather than a failing setsockopt later. No ZeroMQ here: Z85 is simple enough
// to decode directly (same alphabet and rules as zmq_z85_decode).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace revalidator::curve {

inline constexpr std::size_t kKeyBytes = 32;
inline constexpr std::size_t kKeyChars = 40;  // Z85: 5 characters for every 4 bytes

// The 32 bytes of a Z85 key, or nullopt when `z85` is not exactly 40 valid Z85 characters.
std::optional<std::array<std::uint8_t, kKeyBytes>> decode_key(std::string_view z85);

// Why `z85` is not a usable key, or nullopt when it is. The message never contains the key (it
// may be a secret): only its length or the position of the offending character.
std::optional<std::string> key_error(std::string_view z85);

}  // namespace revalidator::curve
