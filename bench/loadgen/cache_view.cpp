#include "cache_view.hpp"

#include <cstdlib>

#include <libmemcached/memcached.h>

#include <nlohmann/json.hpp>
#include "cache/mc_client.hpp"

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
    size_t len = 0;
    uint32_t flags = 0;
    memcached_return_t rc{};
    char* v = memcached_get(impl_->mc, key.data(), key.size(), &len, &flags, &rc);
    if (!v) return std::nullopt;
    std::string out(v, len);
    std::free(v);
    return out;
}

std::unordered_map<std::string, std::string> CacheView::get_many(
    const std::vector<std::string>& keys) {
    std::unordered_map<std::string, std::string> found;
    std::vector<const char*> ptrs;
    std::vector<size_t> lens;
    for (std::size_t from = 0; from < keys.size(); from += kBatchKeys) {
        std::size_t to = std::min(keys.size(), from + kBatchKeys);
        ptrs.clear();
        lens.clear();
        for (std::size_t i = from; i < to; ++i) {
            ptrs.push_back(keys[i].data());
            lens.push_back(keys[i].size());
        }
        if (memcached_mget(impl_->mc, ptrs.data(), lens.data(), ptrs.size()) != MEMCACHED_SUCCESS)
            continue;
        memcached_return_t rc{};
        while (memcached_result_st* r = memcached_fetch_result(impl_->mc, nullptr, &rc)) {
            found.emplace(
                std::string(memcached_result_key_value(r), memcached_result_key_length(r)),
                std::string(memcached_result_value(r), memcached_result_length(r)));
            memcached_result_free(r);
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
