// gzip for the read routes (RFC 9110, section 8.4.1.3): a 600 KB list is about 100 KB
// compressed. zlib does the work; this file decides when a client takes it.
#pragma once

#include <string>
#include <string_view>

namespace revalidator::ingress {

// Whether an Accept-Encoding field value accepts gzip: "gzip" (or "x-gzip", or "*") listed with
// no q or a q above 0. "gzip;q=0" refuses it, even when "*" would accept it.
bool accepts_gzip(std::string_view accept_encoding);

// `bytes` as a gzip member (level 1: the list is compressed once per version, at the speed a read
// needs). Throws std::bad_alloc when zlib cannot allocate.
std::string gzip(std::string_view bytes);

}  // namespace revalidator::ingress
