#include "etag.hpp"

#include "cache/list_version.hpp"

namespace revalidator::ingress {

std::string etag_of(std::string_view bytes) {
    // Appended rather than "\"" + version + "\"": g++ 12 at -O2 warns (-Wrestrict) on the
    // inlined insert at the front, a false positive that would fail a Release build with -Werror.
    std::string tag = "\"";
    tag += list_version(bytes);
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
