// The two text rules of HTTP fields that the framer and the messages share: names compare
// without case (RFC 9110 §5.1), and a value's surrounding spaces and tabs are not part of it
// (RFC 9110 §5.5).
#pragma once

#include <algorithm>
#include <string_view>

namespace revalidator::http {

// What these rules fold is ASCII: a letter's case, byte by byte, inline (the C library's
// tolower() is a call per byte, and the same in the "C" locale these processes run in).
inline char ascii_lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return ascii_lower(x) == ascii_lower(y);
           });
}

inline std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace revalidator::http
