#include "mc_gets.hpp"

#include <cstdlib>
#include <memory>
#include <unordered_map>

#include <libmemcached/memcached.h>

#include "cache_key.hpp"

namespace revalidator {

namespace {

using Status = McLookup::Status;

struct Free {
    void operator()(char* p) const { std::free(p); }
};

// What one multi-get returned for `keys`.
struct MultiGet {
    std::vector<McLookup> got;            // per key: Found, BadKey, or Absent for "not returned"
    std::vector<std::size_t> first;       // per key: the place where it first stands
    std::vector<std::size_t> unanswered;  // first places of keys sent and not returned, in order
    // Set when the multi-get ended in a server error: a key it did not return may be on that
    // server, and asking it alone would wait for that server again.
    std::optional<std::string> failed;
};

MultiGet multi_get(memcached_st* mc, std::span<const std::string> keys) {
    MultiGet m;
    m.got.resize(keys.size());
    m.first.resize(keys.size());
    std::unordered_map<std::string_view, std::size_t> at;
    std::vector<const char*> ptrs;
    std::vector<std::size_t> lengths;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        m.first[i] = i;
        if (auto bad = check_key(keys[i])) {
            m.got[i] = {Status::BadKey, {}, std::move(*bad)};
            continue;
        }
        if (auto [it, fresh] = at.emplace(keys[i], i); !fresh) {
            m.first[i] = it->second;
            continue;
        }
        ptrs.push_back(keys[i].data());
        lengths.push_back(keys[i].size());
    }
    if (ptrs.empty()) return m;
    // A multi-get that could not be sent to every server says nothing of the keys it did not
    // return: they are asked alone, as after a multi-get that ended cleanly.
    if (memcached_mget(mc, ptrs.data(), lengths.data(), ptrs.size()) == MEMCACHED_SUCCESS) {
        memcached_return_t rc{};
        while (memcached_result_st* r = memcached_fetch_result(mc, nullptr, &rc)) {
            std::string_view key(memcached_result_key_value(r), memcached_result_key_length(r));
            if (auto it = at.find(key); it != at.end()) {
                m.got[it->second] = {
                    Status::Found,
                    std::string(memcached_result_value(r), memcached_result_length(r)),
                    {}};
            }
            memcached_result_free(r);
        }
        if (rc != MEMCACHED_END && rc != MEMCACHED_NOTFOUND && rc != MEMCACHED_SUCCESS) {
            m.failed = memcached_strerror(mc, rc);
        }
    }
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (m.first[i] == i && m.got[i].status == Status::Absent) m.unanswered.push_back(i);
    }
    return m;
}

}  // namespace

McLookup mc_get(memcached_st* mc, std::string_view key) {
    if (auto bad = check_key(key)) return {Status::BadKey, {}, std::move(*bad)};
    std::size_t length = 0;
    uint32_t flags = 0;
    memcached_return_t rc = MEMCACHED_SUCCESS;
    std::unique_ptr<char, Free> value(
        memcached_get(mc, key.data(), key.size(), &length, &flags, &rc));
    if (rc == MEMCACHED_SUCCESS) {
        return {Status::Found, value ? std::string(value.get(), length) : std::string(), {}};
    }
    if (rc == MEMCACHED_NOTFOUND) return {};
    return {Status::Unreachable, {}, memcached_strerror(mc, rc)};
}

std::vector<McLookup> mc_get_many(memcached_st* mc, std::span<const std::string> keys) {
    MultiGet m = multi_get(mc, keys);
    std::optional<std::string> silent = std::move(m.failed);  // why servers are not answering
    for (std::size_t i : m.unanswered) {
        if (silent) {
            m.got[i] = {Status::Unreachable, {}, *silent};
            continue;
        }
        m.got[i] = mc_get(mc, keys[i]);
        if (m.got[i].status == Status::Unreachable) silent = m.got[i].why;
    }
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (m.first[i] != i) m.got[i] = m.got[m.first[i]];
    }
    return std::move(m.got);
}

std::vector<std::optional<std::string>> mc_hits(memcached_st* mc,
                                                std::span<const std::string> keys) {
    MultiGet m = multi_get(mc, keys);
    std::vector<std::optional<std::string>> out(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (m.first[i] != i) {
            out[i] = out[m.first[i]];
        } else if (m.got[i].status == Status::Found) {
            out[i] = std::move(m.got[i].value);
        }
    }
    return out;
}

}  // namespace revalidator
