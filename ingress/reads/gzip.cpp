#include "gzip.hpp"

#include <zlib.h>

#include <cctype>
#include <new>
#include <optional>

namespace revalidator::ingress {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    }
    return true;
}

// The weight of one list member ("gzip;q=0.5"): its q, 1 without one, 0 when q is malformed
// (a value the client did not mean to accept is not accepted).
double weight(std::string_view params) {
    while (!params.empty()) {
        const auto semi = params.find(';');
        auto p = trim(params.substr(0, semi));
        if (p.size() >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            auto v = p.substr(2);
            if (v.empty() || v.size() > 5 || (v[0] != '0' && v[0] != '1')) return 0;
            if (v.size() > 1 && v[1] != '.') return 0;
            double q = v[0] - '0', scale = 0.1;
            for (std::size_t i = 2; i < v.size(); ++i, scale /= 10) {
                if (!std::isdigit(static_cast<unsigned char>(v[i]))) return 0;
                q += (v[i] - '0') * scale;
            }
            return q > 1 ? 0 : q;
        }
        if (semi == std::string_view::npos) break;
        params.remove_prefix(semi + 1);
    }
    return 1;
}

}  // namespace

bool accepts_gzip(std::string_view field) {
    std::optional<double> gzip_q, any_q;
    while (!field.empty()) {
        const auto comma = field.find(',');
        auto member = field.substr(0, comma);
        const auto semi = member.find(';');
        auto coding = trim(member.substr(0, semi));
        const double q = semi == std::string_view::npos ? 1.0 : weight(member.substr(semi + 1));
        if (iequals(coding, "gzip") || iequals(coding, "x-gzip")) {
            gzip_q = q;
        } else if (coding == "*") {
            any_q = q;
        }
        if (comma == std::string_view::npos) break;
        field.remove_prefix(comma + 1);
    }
    if (gzip_q) return *gzip_q > 0;
    return any_q && *any_q > 0;
}

std::string gzip(std::string_view bytes) {
    z_stream z{};
    // 15 window bits + 16: a gzip header and trailer rather than zlib's.
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::bad_alloc();
    std::string out(deflateBound(&z, bytes.size()), '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    z.avail_in = static_cast<uInt>(bytes.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) throw std::bad_alloc();
    return out;
}

}  // namespace revalidator::ingress
