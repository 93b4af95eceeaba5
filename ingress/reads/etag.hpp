// Entity tags for the read routes (RFC 9110, section 8.8.3): strong tags that change exactly when
// the bytes they name change, so that a browser, a CDN or a reverse proxy can revalidate a cached
// answer with If-None-Match and get a 304 instead of the body.
//
// The tag is a digest of the bytes, not a version number: every ingress computes the same tag for
// the same cache value, so an answer revalidates against any instance behind the load balancer.
#pragma once

#include <string>
#include <string_view>

namespace revalidator::ingress {

// The strong tag of `bytes`: their list_version (shared/cache/list_version.hpp) in quotes, so a
// list's tag is known from its version key alone.
std::string etag_of(std::string_view bytes);

// The tag of the gzip representation of the bytes `etag` names: the same tag with "-gz" before
// the closing quote. Representations differ in their bytes, so they differ in their strong tags,
// and a cache that stored one never revalidates it as the other.
std::string gzip_etag(std::string_view etag);

// Whether an If-None-Match field value names `etag`: "*", or a comma-separated list of tags
// compared weakly (a W/ prefix is ignored), as RFC 9110 requires for If-None-Match.
bool none_match_hits(std::string_view if_none_match, std::string_view etag);

}  // namespace revalidator::ingress
