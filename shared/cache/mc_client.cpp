#include "mc_client.hpp"

#include <new>
#include <stdexcept>

#include <libmemcached/memcached.h>

#include "server_list.hpp"

namespace revalidator {

namespace {

// The ketama distribution with md5 for keys and points, as libketama does; no ejection.
void distribute(memcached_st* mc) {
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_AUTO_EJECT_HOSTS, 0);
}

}  // namespace

memcached_st* connect_memcached(const std::string& servers) {
    auto list = parse_server_list(servers, 11211);
    if (!list) throw std::invalid_argument("--memcached " + list.error());
    memcached_st* mc = memcached_create(nullptr);
    if (!mc) throw std::bad_alloc();
    for (const auto& s : *list) {
        if (memcached_server_add(mc, s.host.c_str(), static_cast<in_port_t>(s.port)) !=
            MEMCACHED_SUCCESS) {
            memcached_free(mc);
            throw std::invalid_argument("--memcached: cannot add '" + s.host + "'");
        }
    }
    distribute(mc);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    return mc;
}

memcached_st* connect_memcached(const std::string& servers, McTimeouts timeouts) {
    memcached_st* mc = connect_memcached(servers);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT,
                           static_cast<uint64_t>(timeouts.connect.count()));
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT,
                           static_cast<uint64_t>(timeouts.io.count()));
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 1);  // s
    return mc;
}

memcached_st* clone_memcached(const memcached_st* mc) {
    memcached_st* copy = memcached_clone(nullptr, mc);
    if (!copy) throw std::bad_alloc();
    distribute(copy);
    return copy;
}

}  // namespace revalidator
