#include "mc_reader.hpp"

#include <mutex>

#include <libmemcached/memcached.h>

#include "cache/mc_client.hpp"
#include "cache/mc_gets.hpp"

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

    static std::string failure(const McLookup& got) {
        return (got.status == McLookup::Status::BadKey ? "key not sent: " : "memcached: ") +
               got.why;
    }
};

McReader::McReader(const std::string& servers, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
    impl_->proto = connect_memcached(servers, {.connect = timeout, .io = timeout});
}

McReader::~McReader() {
    for (auto* mc : impl_->idle) memcached_free(mc);
    memcached_free(impl_->proto);
}

Result<std::optional<std::string>, std::string> McReader::get(const std::string& key) {
    Impl::Handle h(*impl_);
    McLookup got = mc_get(h.get(), key);
    if (got.status == McLookup::Status::Found) return std::optional(std::move(got.value));
    if (got.status == McLookup::Status::Absent) return std::optional<std::string>();
    return Err(Impl::failure(got));
}

Result<std::unordered_map<std::string, std::string>, std::string> McReader::get_many(
    const std::vector<std::string>& keys) {
    Impl::Handle h(*impl_);
    auto got = mc_get_many(h.get(), keys);
    std::unordered_map<std::string, std::string> found;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (got[i].status == McLookup::Status::Found) {
            found.emplace(keys[i], std::move(got[i].value));
        } else if (got[i].status != McLookup::Status::Absent) {
            return Err(Impl::failure(got[i]));
        }
    }
    return found;
}

std::unordered_map<std::string, std::string> McReader::hits(const std::vector<std::string>& keys) {
    Impl::Handle h(*impl_);
    auto got = mc_hits(h.get(), keys);
    std::unordered_map<std::string, std::string> found;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (got[i]) found.emplace(keys[i], std::move(*got[i]));
    }
    return found;
}

}  // namespace revalidator::ingress
