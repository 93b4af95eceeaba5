// The read routes (docs/read-api.md): GET and HEAD on {prefix} (the list), {prefix}/{id} (a
// row) and each view's key (a list), answered from the cache by Reads, with a strong ETag, 304 on
// If-None-Match, gzip when the client accepts it (Vary: Accept-Encoding), and the configured
// Cache-Control. They run on the HTTP server's pool threads (a miss waits for the worker's fill),
// never on the loops that acknowledge webhooks. Row reads waiting together are answered in batches:
// one multi-get for all their rows (prefetched_cache.hpp); the misses among them are then answered
// one at a time.
//
// Reads are public unless a read secret is set. The read secret is a credential of its own: the
// webhook secrets never grant a read, and the read secret never grants a webhook.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "bearer.hpp"
#include "http_front.hpp"
#include "prefetched_cache.hpp"
#include "reads.hpp"

namespace revalidator::ingress {

struct ReadRouteContext {
    Reads& reads;
    std::string prefix;
    std::string cache_control;
    const BearerAuth* read_auth;  // nullptr: reads are public
    PrefetchedCache* prefetch;    // the cache `reads` reads; nullptr: rows are read one by one
    bool rows = true;             // {prefix}/{id} too; a view is a list alone (collection.hpp)
};

// The routes of every collection served. Their row reads share one batch hook: a batch's rows,
// whichever collections they are of, are read with one multi-get.
void add_read_routes(http::Server& svr, const std::vector<ReadRouteContext>& collections);

// The paths add_read_routes serves, as regular expressions, with their methods (for the 405s of
// http::route_errors).
std::map<std::string, std::set<std::string>> read_route_patterns(std::string_view prefix,
                                                                 bool rows = true);

}  // namespace revalidator::ingress
