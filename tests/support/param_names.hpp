// Names for the cases of value-parameterised tests (the fourth argument of
// INSTANTIATE_TEST_SUITE_P). Without one, gtest numbers the cases and ctest lists each by the
// bytes of its value, which differ from run to run; with one, gtest and ctest name a case alike,
// the same on every run, and --gtest_filter finds it by that name. gtest accepts only letters,
// digits and '_', and refuses a name given twice in one instantiation when the binary starts.
#pragma once

#include <cctype>
#include <cstdio>
#include <iterator>
#include <string>
#include <string_view>

namespace revalidator::testing {

// `text` in the characters gtest accepts: letters and digits as they are; a '-', '/' or '_'
// between two of them as '_'; any other byte as its name, set apart by '_' ("+7" is "plus_7",
// "7 " is "7_space", "-0" is "minus_0"); "" as "empty".
inline std::string spelled_name(std::string_view text) {
    static constexpr std::string_view kPunctuation = " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    static constexpr std::string_view kWords[] = {
        "space",    "bang",   "quote",    "hash",      "dollar",   "percent", "amp",
        "apos",     "lparen", "rparen",   "star",      "plus",     "comma",   "minus",
        "dot",      "slash",  "colon",    "semicolon", "lt",       "equals",  "gt",
        "question", "at",     "lbracket", "backslash", "rbracket", "caret",   "underscore",
        "backtick", "lbrace", "bar",      "rbrace",    "tilde"};
    static_assert(std::size(kWords) == kPunctuation.size());
    const auto alnum = [&](std::size_t i) {
        return i < text.size() && std::isalnum(static_cast<unsigned char>(text[i])) != 0;
    };
    std::string name;
    const auto word = [&](std::string_view w) {
        if (!name.empty() && name.back() != '_') name += '_';
        name += w;
        name += '_';
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (alnum(i)) {
            name += c;
        } else if ((c == '-' || c == '/' || c == '_') && i > 0 && alnum(i - 1) && alnum(i + 1)) {
            name += '_';
        } else if (const auto at = kPunctuation.find(c); at != std::string_view::npos) {
            word(kWords[at]);
        } else {
            char hex[4];
            std::snprintf(hex, sizeof hex, "x%02X", static_cast<unsigned char>(c));
            word(hex);
        }
    }
    if (!name.empty() && name.back() == '_') name.pop_back();
    return name.empty() ? "empty" : name;
}

}  // namespace revalidator::testing
