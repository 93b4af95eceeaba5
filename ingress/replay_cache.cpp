#include "replay_cache.hpp"

namespace revalidator::ingress {

ReplayCache::ReplayCache(std::size_t capacity) : capacity_(capacity) {}

void ReplayCache::evict_expired(std::int64_t now) {
    while (!by_expiry_.empty() && by_expiry_.begin()->first < now) {
        const std::string* id = by_expiry_.begin()->second;
        by_expiry_.erase(by_expiry_.begin());
        expiry_by_id_.erase(*id);
    }
}

ReplayCache::Claim ReplayCache::claim(std::string_view id, std::int64_t expires_at,
                                      std::int64_t now) {
    std::lock_guard lock(mu_);
    evict_expired(now);
    std::string key(id);
    if (expiry_by_id_.count(key)) return Claim::Replayed;
    if (expiry_by_id_.size() >= capacity_) return Claim::Full;
    auto it = expiry_by_id_.emplace(std::move(key), expires_at).first;
    by_expiry_.emplace(expires_at, &it->first);
    return Claim::Fresh;
}

void ReplayCache::release(std::string_view id) {
    std::lock_guard lock(mu_);
    auto it = expiry_by_id_.find(std::string(id));
    if (it == expiry_by_id_.end()) return;
    by_expiry_.erase({it->second, &it->first});
    expiry_by_id_.erase(it);
}

std::size_t ReplayCache::size() const {
    std::lock_guard lock(mu_);
    return expiry_by_id_.size();
}

}  // namespace revalidator::ingress
