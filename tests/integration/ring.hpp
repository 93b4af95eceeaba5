// Where libmemcached's ring puts a key, as the tests that spread keys over several servers ask it:
// the port of the key's server (every test server listens on 127.0.0.1), 0 when it names none.
#pragma once

#include <libmemcached/memcached.h>

#include <string>

namespace revalidator::testing {

inline in_port_t port_of(memcached_st* mc, const std::string& key) {
    memcached_return_t rc{};
    const memcached_instance_st* s = memcached_server_by_key(mc, key.data(), key.size(), &rc);
    return s ? memcached_server_port(s) : 0;
}

}  // namespace revalidator::testing
