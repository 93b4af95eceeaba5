// The read routes' Memcached adapter. Reads run on the HTTP server's blocking threads, several at
// once, and a libmemcached handle serves one thread at a time, so the reader keeps a handle per
// concurrent caller (made on demand, reused after). Every call is bounded by `timeout` (connect
// and each poll), so a frozen server costs a reader that long, never a hung thread. The reads
// themselves, with their key checks and how a miss is told from an outage, are
// shared/cache/mc_gets.hpp's.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "cache_reads.hpp"

namespace revalidator::ingress {

class McReader final : public CacheReads {
  public:
    // Throws std::invalid_argument naming --memcached when `servers` is not a valid list.
    McReader(const std::string& servers, std::chrono::milliseconds timeout);
    ~McReader() override;

    Result<std::optional<std::string>, std::string> get(const std::string& key) override;
    Result<std::unordered_map<std::string, std::string>, std::string> get_many(
        const std::vector<std::string>& keys) override;
    std::unordered_map<std::string, std::string> hits(
        const std::vector<std::string>& keys) override;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace revalidator::ingress
