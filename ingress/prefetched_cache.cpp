#include "prefetched_cache.hpp"

#include <stdexcept>
#include <utility>

namespace revalidator::ingress {

namespace {

// The values of the current batch of this thread, and whose prefetch read them.
struct Kept {
    const PrefetchedCache* owner = nullptr;
    std::unordered_map<std::string, std::string> values;
};
thread_local Kept kept;

}  // namespace

PrefetchedCache::Scope::~Scope() {
    if (owner_ && kept.owner == owner_) {
        kept.owner = nullptr;
        kept.values.clear();
    }
}

bool PrefetchedCache::Scope::found(const std::string& key) const {
    return owner_ && kept.owner == owner_ && kept.values.contains(key);
}

PrefetchedCache::Scope PrefetchedCache::prefetch(const std::vector<std::string>& keys) {
    if (kept.owner) throw std::logic_error("PrefetchedCache: a prefetch is already in scope");
    if (keys.empty()) return Scope(nullptr);
    auto values = cache_.get_many(keys);
    if (!values) return Scope(nullptr);
    kept.owner = this;
    kept.values = std::move(*values);
    return Scope(this);
}

Result<std::optional<std::string>, std::string> PrefetchedCache::get(const std::string& key) {
    if (kept.owner == this) {
        if (auto it = kept.values.find(key); it != kept.values.end()) {
            return std::optional<std::string>(it->second);
        }
    }
    return cache_.get(key);
}

Result<std::unordered_map<std::string, std::string>, std::string> PrefetchedCache::get_many(
    const std::vector<std::string>& keys) {
    return cache_.get_many(keys);
}

}  // namespace revalidator::ingress
