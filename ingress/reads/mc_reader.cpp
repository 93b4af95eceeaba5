#include "mc_reader.hpp"

#include <cstdlib>
#include <mutex>

#include <libmemcached/memcached.h>

#include "cache/cache_key.hpp"
#include "cache/mc_client.hpp"

namespace revalidator::ingress {

struct McReader::Impl {
    memcached_st* proto = nullptr;  // configured once; every handle is a clone
    std::mutex mu;
    std::vector<memcached_st*> idle;

    // A handle for this call only, back to `idle` when the call ends.
    class Handle {
      public:
        explicit Handle(Impl& impl) : impl_(impl) {
            {
                std::lock_guard lock(impl_.mu);
                if (!impl_.idle.empty()) {
                    mc_ = impl_.idle.back();
                    impl_.idle.pop_back();
                    return;
                }
            }
            mc_ = clone_memcached(impl_.proto);
        }
        ~Handle() {
            std::lock_guard lock(impl_.mu);
            impl_.idle.push_back(mc_);
        }
        Handle(const Handle&) = delete;
        Handle& operator=(const Handle&) = delete;
        memcached_st* get() const { return mc_; }

      private:
        Impl& impl_;
        memcached_st* mc_ = nullptr;
    };

    static std::string failure(memcached_st* mc, memcached_return_t rc) {
        return std::string("memcached: ") + memcached_strerror(mc, rc);
    }
};

McReader::McReader(const std::string& servers, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
    impl_->proto = connect_memcached(servers);
    const auto ms = static_cast<uint64_t>(timeout.count());
    memcached_behavior_set(impl_->proto, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, ms);
    memcached_behavior_set(impl_->proto, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, ms);
    memcached_behavior_set(impl_->proto, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 1);  // s
}

McReader::~McReader() {
    for (auto* mc : impl_->idle) memcached_free(mc);
    memcached_free(impl_->proto);
}

Result<std::optional<std::string>, std::string> McReader::get(const std::string& key) {
    if (auto bad = check_key(key)) return Err("key not sent: " + *bad);
    Impl::Handle h(*impl_);
    std::size_t length = 0;
    uint32_t flags = 0;
    memcached_return_t rc = MEMCACHED_SUCCESS;
    char* value = memcached_get(h.get(), key.data(), key.size(), &length, &flags, &rc);
    if (rc == MEMCACHED_NOTFOUND) return std::optional<std::string>();
    if (rc != MEMCACHED_SUCCESS) {
        std::free(value);
        return Err(Impl::failure(h.get(), rc));
    }
    std::optional<std::string> out(std::in_place, value ? value : "", length);
    std::free(value);
    return out;
}

Result<std::unordered_map<std::string, std::string>, std::string> McReader::get_many(
    const std::vector<std::string>& keys) {
    std::vector<const char*> ptrs;
    std::vector<std::size_t> lengths;
    for (const auto& k : keys) {
        if (auto bad = check_key(k)) return Err("key not sent: " + *bad);
        ptrs.push_back(k.data());
        lengths.push_back(k.size());
    }
    std::unordered_map<std::string, std::string> found;
    if (keys.empty()) return found;
    Impl::Handle h(*impl_);
    memcached_return_t rc = memcached_mget(h.get(), ptrs.data(), lengths.data(), keys.size());
    if (rc != MEMCACHED_SUCCESS) return Err(Impl::failure(h.get(), rc));
    while (memcached_result_st* r = memcached_fetch_result(h.get(), nullptr, &rc)) {
        found.emplace(std::string(memcached_result_key_value(r), memcached_result_key_length(r)),
                      std::string(memcached_result_value(r), memcached_result_length(r)));
        memcached_result_free(r);
    }
    if (rc != MEMCACHED_END && rc != MEMCACHED_NOTFOUND && rc != MEMCACHED_SUCCESS) {
        return Err(Impl::failure(h.get(), rc));
    }
    return found;
}

}  // namespace revalidator::ingress
