// The Memcached adapter. Every write (a set, an expiring set, a delete, and a batch's
// set_many and remove_many) goes over Memcached's meta protocol, pipelined on one connection per
// server, every key with its own outcome (worker/mc_pipeline.hpp): libmemcached's set waits a
// round trip per key, its NOREPLY pipelining would hide which key was refused (promise 4), and it
// sends a large value (a list's head, up to the item limit) in 8 KB writes. Reads, `touch` and
// `stats` go through libmemcached, with TCP_NODELAY on (libmemcached leaves it off, and every
// small write would then wait on Nagle). Every operation is bounded in time: connecting by
// `connect`, each wait for the socket by `io`, so an absent or frozen server is noticed within
// `bound()`; a failed server is retried after one second.
//
// Every write first asks the WriteGate; when it says no, the sink throws Fenced before sending
// anything (docs/operations.md, "One writer, fenced").
//
// Every key is checked (check_key) before it is sent, behind the applier's own check: a key the
// text protocol would misread is refused here and never reaches the connection. Reads are
// shared/cache/mc_gets.hpp's, the one way every reader of ours reads the cache.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "cache/mc_client.hpp"
#include "cache_sink.hpp"

namespace revalidator::worker {

class McSink final : public CacheSink {
  public:
    // servers: "host:port[,host:port...]"
    explicit McSink(const std::string& servers, McTimeouts timeouts = {}, WriteGate gate = {});
    ~McSink() override;

    WriteStatus set(std::string_view key, std::string_view value) override;
    std::vector<WriteStatus> set_many(std::span<const CacheItem> items) override;
    WriteStatus set_expiring(std::string_view key, std::string_view value,
                             std::chrono::seconds ttl) override;
    WriteStatus remove(std::string_view key) override;
    std::vector<WriteStatus> remove_many(std::span<const std::string> keys) override;
    Lookup get(std::string_view key) override;
    // One multi-get (a round trip per server rather than per key), then a get per key it did not
    // return, bounded as shared/cache/mc_gets.hpp says: a server that is down is never a miss.
    std::vector<Lookup> get_many(std::span<const std::string> keys) override;
    bool has(std::string_view key) override;
    std::string instance() override;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace revalidator::worker
