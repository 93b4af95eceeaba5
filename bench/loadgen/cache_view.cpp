#include "cache_view.hpp"

#include <algorithm>
#include <span>

#include <libmemcached/memcached.h>

#include <nlohmann/json.hpp>

#include "cache/mc_client.hpp"
#include "cache/mc_gets.hpp"

namespace loadgen {

namespace {

constexpr std::size_t kBatchKeys = 2000;

}  // namespace

struct CacheView::Impl {
    memcached_st* mc = nullptr;
};

CacheView::CacheView(const std::string& servers) : impl_(std::make_unique<Impl>()) {
    impl_->mc = revalidator::connect_memcached(servers);
    memcached_behavior_set(impl_->mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, 5000);  // ms: 60 MB lists
}

CacheView::~CacheView() {
    memcached_free(impl_->mc);
}

std::optional<std::string> CacheView::get(const std::string& key) {
    auto got = revalidator::mc_get(impl_->mc, key);
    if (got.status != revalidator::McLookup::Status::Found) return std::nullopt;
    return std::move(got.value);
}

std::unordered_map<std::string, std::string> CacheView::get_many(
    const std::vector<std::string>& keys) {
    std::unordered_map<std::string, std::string> found;
    const std::span<const std::string> all(keys);
    for (std::size_t from = 0; from < keys.size(); from += kBatchKeys) {
        const auto batch = all.subspan(from, std::min(kBatchKeys, keys.size() - from));
        auto got = revalidator::mc_hits(impl_->mc, batch);
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (got[i]) found.emplace(batch[i], std::move(*got[i]));
        }
    }
    return found;
}

std::optional<std::string> CacheView::list(const std::string& prefix) {
    auto head = get(prefix);
    if (!head) return std::nullopt;
    return assemble(std::move(*head));
}

std::optional<std::string> CacheView::assemble(std::string head) {
    if (head.empty() || head.front() != '{') return head;
    auto manifest = nlohmann::json::parse(head, nullptr, false);
    if (!manifest.is_object() || !manifest.value("chunked", false)) return std::nullopt;
    if (!manifest.contains("parts") || !manifest["parts"].is_array()) return std::nullopt;
    std::vector<std::string> keys;
    for (const auto& k : manifest["parts"]) {
        if (!k.is_string()) return std::nullopt;
        keys.push_back(k.get<std::string>());
    }
    auto got = get_many(keys);
    std::string list;
    list.reserve(manifest.value("bytes", std::size_t{0}));
    for (const auto& k : keys) {
        auto it = got.find(k);
        if (it == got.end()) return std::nullopt;
        list += it->second;
    }
    return list;
}

bool CacheView::set(const std::string& key, const std::string& value) {
    return memcached_set(impl_->mc, key.data(), key.size(), value.data(), value.size(), 0, 0) ==
           MEMCACHED_SUCCESS;
}

void CacheView::remove(const std::string& key) {
    memcached_delete(impl_->mc, key.data(), key.size(), 0);
}

}  // namespace loadgen
