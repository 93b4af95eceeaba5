// A libmemcached handle for a server list as the --memcached flag takes it ("host:port[,...]",
// shared/server_list.hpp), set up the one way every client of ours needs: TCP_NODELAY on, since
// libmemcached leaves it off and every small request would then wait on Nagle. The worker's sink,
// the ingress's reads and the bench's cache view start from it and add their own time bounds. This header does
// not include libmemcached; mc_client.cpp, an adapter, does.
#pragma once

#include <string>

struct memcached_st;

namespace revalidator {

// A new handle; the caller owns it and frees it with memcached_free. Throws std::invalid_argument
// naming --memcached when `servers` is not a valid list, std::bad_alloc when libmemcached cannot
// allocate.
memcached_st* connect_memcached(const std::string& servers);

}  // namespace revalidator
