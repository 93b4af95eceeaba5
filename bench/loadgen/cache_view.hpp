// What a reader of the cache sees, through libmemcached: single and multi-key gets, and the list
// reassembled from the documented large-list layout (docs/cache-layout.md): the head "{prefix}"
// is either the list itself ('[') or a manifest ('{') {"chunked":true,"bytes":B,"parts":[keys]}
// whose parts, fetched by the keys it names, concatenate to the list. This reader is written from
// that description, not from the worker's code, so it checks the contract a user's reader relies
// on. One CacheView per thread: a libmemcached handle is not thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace loadgen {

class CacheView {
  public:
    // servers: "host:port[,host:port...]"
    explicit CacheView(const std::string& servers);
    ~CacheView();
    CacheView(const CacheView&) = delete;
    CacheView& operator=(const CacheView&) = delete;

    std::optional<std::string> get(const std::string& key);
    // The keys that are present, with their values (fetched in pipelined batches).
    std::unordered_map<std::string, std::string> get_many(const std::vector<std::string>& keys);
    // nullopt when the head is absent, the manifest is not valid, or a part is missing.
    std::optional<std::string> list(const std::string& prefix);
    // The list that `head`, a value read from "{prefix}" before, stands for.
    std::optional<std::string> assemble(std::string head);

    bool set(const std::string& key, const std::string& value);
    void remove(const std::string& key);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace loadgen
