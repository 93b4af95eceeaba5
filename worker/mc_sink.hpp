// The Memcached adapter (libmemcached). TCP_NODELAY is turned on (libmemcached leaves it off, and
// every small write would then wait on Nagle), timeouts are short so an absent server is noticed
// in about a second, and a failed server is retried after one second.
#pragma once

#include <memory>
#include <string>

#include "cache_sink.hpp"

namespace revalidator::worker {

class McSink final : public CacheSink {
  public:
    // servers: "host:port[,host:port...]"
    explicit McSink(const std::string& servers);
    ~McSink() override;

    WriteStatus set(std::string_view key, std::string_view value) override;
    WriteStatus remove(std::string_view key) override;
    Lookup get(std::string_view key) override;
    std::string instance() override;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace revalidator::worker
