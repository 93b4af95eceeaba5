// A libmemcached handle for a server list as the --memcached flag takes it ("host:port[,...]",
// shared/cache/server_list.hpp), set up the one way every client of ours needs:
// - keys spread over several servers by libketama-compatible consistent hashing (md5, 160 points
//   per server, all of weight 1): the distribution twemproxy (`distribution: ketama`,
//   `hash: md5`), PHP's memcached (OPT_LIBKETAMA_COMPATIBLE) and pylibmc (`ketama_weighted`)
//   compute, so readers of every kind find each key where the worker wrote it
//   (docs/cache-layout.md, "Several servers"). libmemcached's default, modulo hashing, matches no
//   other client and moves almost every key when a server is added;
// - no ejection of a dead server: its keys never move to another server, where an older copy
//   could be read, and its writes fail and are retried until it is back;
// - TCP_NODELAY on, since libmemcached leaves it off and every small request would then wait on
//   Nagle.
// The worker's sink, the ingress's reads and the bench's cache view start from it and add their
// own time bounds. This header does not include libmemcached; mc_client.cpp, an adapter, does.
#pragma once

#include <chrono>
#include <string>

struct memcached_st;

namespace revalidator {

// A new handle; the caller owns it and frees it with memcached_free. Throws std::invalid_argument
// naming --memcached when `servers` is not a valid list, std::bad_alloc when libmemcached cannot
// allocate.
memcached_st* connect_memcached(const std::string& servers);

// How long a handle may wait on a server.
struct McTimeouts {
    std::chrono::milliseconds connect{500};
    std::chrono::milliseconds io{1000};  // each wait for a socket to take or give bytes
    // The longest one operation can take: connect, send, wait for the answer.
    std::chrono::milliseconds bound() const { return connect + 2 * io; }
};

// connect_memcached, every wait bounded by `timeouts`, so a frozen server costs a caller that long
// and never a hung thread; a server that failed is tried again a second later, so one that is back
// is used again at once.
memcached_st* connect_memcached(const std::string& servers, McTimeouts timeouts);

// A copy of `mc` (another connection, the same servers and settings) with the distribution above.
// libmemcached's own memcached_clone drops the "weighted" part of ketama and so builds another
// ring: keys written or read through such a copy would go to other servers than the original's.
// Every copy must be made here.
memcached_st* clone_memcached(const memcached_st* mc);

}  // namespace revalidator
