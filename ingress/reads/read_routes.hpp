// The read routes (docs/read-api.md): GET and HEAD on {prefix} (the list), {prefix}/{id} (a
// row) and each view's key (a list), answered from the cache by Reads, with a strong ETag, 304 on
// If-None-Match, gzip when the client accepts it (Vary: Accept-Encoding), the configured
// Cache-Control, and `Accept-Ranges: none`: a Range header is ignored and the whole value sent.
//
// They run in three lanes of the HTTP server, each with its own threads and bounded queue, never
// on the loops that acknowledge webhooks: rows (hits answered in batches, one multi-get for a
// batch's rows), misses (the rows a batch did not find, which may wait on Postgres or the worker's
// fill), and lists (lists and views, in batches too: one get of the list's version for a batch).
// A storm in one lane leaves the others as they were.
//
// A collection configured without a list answers its list's path with 404 `no_list`, on the loop.
//
// Reads are public unless a read secret is set. The read secret is a credential of its own: the
// webhook secrets never grant a read, and the read secret never grants a webhook.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "http/bearer.hpp"
#include "http/http_front.hpp"
#include "reads.hpp"

namespace revalidator::ingress {

// The lanes' sizes (docs/configuration.md, the --read-* flags).
struct ReadLanes {
    int hit_threads = 2;
    std::size_t batch = 32;
    int miss_threads = 8;
    int list_threads = 2;
    std::size_t queue = 1024;  // each lane's; the rows lane's in batches
};

struct ReadRouteContext {
    Reads& reads;
    std::string prefix;
    std::string cache_control;
    const BearerAuth* read_auth;  // nullptr: reads are public
    bool rows = true;             // {prefix}/{id} too; a view is a list alone (collection.hpp)
    // Whether {prefix} has a list (Collection::list): without one, GET {prefix} is answered 404
    // no_list at once, never a wait for a list that will not come.
    bool list = true;
};

void add_read_routes(http::Server& svr, const ReadLanes& lanes,
                     const std::vector<ReadRouteContext>& collections);

// The paths add_read_routes serves, as regular expressions, with their methods (for the 405s of
// http::route_errors).
std::map<std::string, std::set<std::string>> read_route_patterns(std::string_view prefix,
                                                                 bool rows = true);

}  // namespace revalidator::ingress
