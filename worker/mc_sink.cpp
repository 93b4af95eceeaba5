#include "mc_sink.hpp"

#include <string_view>

#include <libmemcached/memcached.h>

#include "cache/cache_key.hpp"
#include "cache/mc_client.hpp"
#include "cache/mc_gets.hpp"
#include "mc_pipeline.hpp"

namespace revalidator::worker {

struct McSink::Impl {
    memcached_st* mc = nullptr;
    std::unique_ptr<McPipeline> pipeline;

    ~Impl() {
        if (mc) memcached_free(mc);
    }

    // libmemcached's own check (MEMCACHED_BEHAVIOR_VERIFY_KEY) is not used: it refuses every
    // byte over 0x7F (isgraph in the C locale), so valid UTF-8 ids would lose their keys.
    static bool sendable(std::string_view key) { return !check_key(key).has_value(); }

    static Lookup lookup(McLookup got) {
        switch (got.status) {
            case McLookup::Status::Found:
                return {std::move(got.value)};
            case McLookup::Status::Unreachable:
                return {std::nullopt, false};
            case McLookup::Status::Absent:
            case McLookup::Status::BadKey:  // no item can have this key: a miss
                break;
        }
        return {};
    }
};

McSink::McSink(const std::string& servers, McTimeouts timeouts, WriteGate gate)
    : impl_(std::make_unique<Impl>()) {
    impl_->mc = connect_memcached(servers, timeouts);
    impl_->pipeline = std::make_unique<McPipeline>(impl_->mc, timeouts, std::move(gate));
}

McSink::~McSink() = default;

WriteStatus McSink::set(std::string_view key, std::string_view value) {
    return set_expiring(key, value, std::chrono::seconds(0));
}

WriteStatus McSink::set_expiring(std::string_view key, std::string_view value,
                                 std::chrono::seconds ttl) {
    const CacheItem item{.key = std::string(key), .value = value, .ttl = ttl};
    return impl_->pipeline->set_many({&item, 1}).front();
}

std::vector<WriteStatus> McSink::set_many(std::span<const CacheItem> items) {
    return impl_->pipeline->set_many(items);
}

std::vector<WriteStatus> McSink::remove_many(std::span<const std::string> keys) {
    return impl_->pipeline->remove_many(keys);
}

WriteStatus McSink::remove(std::string_view key) {
    const std::string keys[] = {std::string(key)};
    return impl_->pipeline->remove_many(keys).front();
}

// A touch answers found or not found without sending the value back (a list part is up to 1 MB).
// Items are stored without expiry, and a touch to 0 keeps it so.
bool McSink::has(std::string_view key) {
    if (!Impl::sendable(key)) return false;
    return memcached_touch(impl_->mc, key.data(), key.size(), 0) == MEMCACHED_SUCCESS;
}

Lookup McSink::get(std::string_view key) {
    return Impl::lookup(mc_get(impl_->mc, key));
}

std::vector<Lookup> McSink::get_many(std::span<const std::string> keys) {
    std::vector<Lookup> out;
    out.reserve(keys.size());
    for (auto& got : mc_get_many(impl_->mc, keys)) out.push_back(Impl::lookup(std::move(got)));
    return out;
}

std::string McSink::instance() {
    memcached_return_t rc{};
    memcached_stat_st* stats = memcached_stat(impl_->mc, nullptr, &rc);
    if (!stats) return "";
    std::string id;
    bool complete = rc == MEMCACHED_SUCCESS;
    for (uint32_t i = 0; i < memcached_server_count(impl_->mc); ++i) {
        // time - uptime is the server's start time: stable while it runs, new after a restart.
        id += std::to_string(stats[i].pid) + "@" + std::to_string(stats[i].time - stats[i].uptime) +
              ";";
        complete &= stats[i].pid != 0;
    }
    memcached_stat_free(impl_->mc, stats);
    return complete ? id : "";
}

}  // namespace revalidator::worker
