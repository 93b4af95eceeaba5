#include "mc_sink.hpp"

#include <atomic>
#include <stdexcept>
#include <string_view>
#include <thread>

#include <libmemcached/memcached.h>

#include "cache/cache_key.hpp"
#include "cache/mc_client.hpp"
#include "cache/mc_gets.hpp"

namespace revalidator::worker {

struct McSink::Impl {
    memcached_st* mc = nullptr;
    std::vector<memcached_st*> lanes;  // clones of mc, one connection each, for set_many
    WriteGate gate;

    bool may_write() const { return !gate.open || gate.open(); }
    void check_gate() const {
        if (!may_write()) throw Fenced("the lease is not confirmed fresh; writes stop");
    }
    // After a write: the gate closing meanwhile is reported, never ignored.
    memcached_return_t wrote(memcached_return_t rc) const {
        if (!may_write() && gate.closed_during_write) gate.closed_during_write();
        return rc;
    }

    static WriteStatus classify(memcached_return_t rc) {
        if (rc == MEMCACHED_SUCCESS || rc == MEMCACHED_NOTFOUND) return WriteStatus::Ok;
        switch (rc) {
            case MEMCACHED_E2BIG:
            case MEMCACHED_BAD_KEY_PROVIDED:
            case MEMCACHED_KEY_TOO_BIG:
            case MEMCACHED_INVALID_ARGUMENTS:
            case MEMCACHED_SERVER_ERROR:
            case MEMCACHED_NOTSTORED:
            case MEMCACHED_SERVER_MEMORY_ALLOCATION_FAILURE:
            case MEMCACHED_MEMORY_ALLOCATION_FAILURE:
                return WriteStatus::Refused;
            default:
                return WriteStatus::Unreachable;
        }
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

McSink::McSink(const std::string& servers, int connections, McTimeouts timeouts, WriteGate gate)
    : impl_(std::make_unique<Impl>()) {
    impl_->gate = std::move(gate);
    impl_->mc = connect_memcached(servers, timeouts);
    for (int i = 1; i < connections; ++i) {
        impl_->lanes.push_back(clone_memcached(impl_->mc));
    }
}

McSink::~McSink() {
    for (auto* lane : impl_->lanes) memcached_free(lane);
    memcached_free(impl_->mc);
}

WriteStatus McSink::set(std::string_view key, std::string_view value) {
    if (!Impl::sendable(key)) return WriteStatus::Refused;
    impl_->check_gate();
    return impl_->classify(impl_->wrote(
        memcached_set(impl_->mc, key.data(), key.size(), value.data(), value.size(), 0, 0)));
}

WriteStatus McSink::set_expiring(std::string_view key, std::string_view value,
                                 std::chrono::seconds ttl) {
    if (!Impl::sendable(key)) return WriteStatus::Refused;
    impl_->check_gate();
    return impl_->classify(
        impl_->wrote(memcached_set(impl_->mc, key.data(), key.size(), value.data(), value.size(),
                                   static_cast<time_t>(ttl.count()), 0)));
}

std::vector<WriteStatus> McSink::set_many(std::span<const CacheItem> items) {
    std::vector<WriteStatus> out(items.size(), WriteStatus::Ok);
    // Below this many keys a thread costs more than the round trips it saves.
    constexpr std::size_t kParallelFrom = 32;
    std::vector<memcached_st*> handles{impl_->mc};
    if (items.size() >= kParallelFrom) {
        handles.insert(handles.end(), impl_->lanes.begin(), impl_->lanes.end());
    }
    std::atomic<bool> fenced{false};
    auto write_lane = [&](std::size_t lane) {
        for (std::size_t i = lane; i < items.size(); i += handles.size()) {
            if (fenced || !impl_->may_write()) {
                fenced = true;
                return;
            }
            const CacheItem& item = items[i];
            if (!Impl::sendable(item.key)) {
                out[i] = WriteStatus::Refused;
                continue;
            }
            out[i] = Impl::classify(
                impl_->wrote(memcached_set(handles[lane], item.key.data(), item.key.size(),
                                           item.value.data(), item.value.size(), 0, 0)));
        }
    };
    std::vector<std::thread> threads;
    for (std::size_t lane = 1; lane < handles.size(); ++lane)
        threads.emplace_back(write_lane, lane);
    write_lane(0);
    for (auto& t : threads) t.join();
    if (fenced) throw Fenced("the lease is not confirmed fresh; writes stop");
    return out;
}

WriteStatus McSink::remove(std::string_view key) {
    if (!Impl::sendable(key)) return WriteStatus::Refused;
    impl_->check_gate();
    return impl_->classify(impl_->wrote(memcached_delete(impl_->mc, key.data(), key.size(), 0)));
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
