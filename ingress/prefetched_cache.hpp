// CacheReads for a batch of row reads (http::Server::get_batched): prefetch() reads every key of
// the batch with one multi-get on the calling thread, and until its Scope ends, get() of one of
// those keys on that thread answers from that read instead of asking the cache again. One round
// trip then serves the whole batch.
//
// Nothing outlives the batch: the values are the cache's as of the prefetch, microseconds before
// the answers they make, and are dropped when the Scope ends (docs/read-api.md, "never staler than
// the cache"). Other threads, keys not prefetched, and keys the prefetch missed go to the cache.
#pragma once

#include <string>
#include <vector>

#include "cache_reads.hpp"

namespace revalidator::ingress {

class PrefetchedCache final : public CacheReads {
  public:
    explicit PrefetchedCache(CacheReads& cache) : cache_(cache) {}

    // What one prefetch found, kept for this thread while the Scope lives.
    class Scope {
      public:
        explicit Scope(const PrefetchedCache* owner) : owner_(owner) {}
        ~Scope();
        Scope(const Scope&) = delete;
        Scope& operator=(const Scope&) = delete;
        // Whether the prefetch found `key` (a later get() of it costs no round trip).
        bool found(const std::string& key) const;

      private:
        const PrefetchedCache* owner_;  // nullptr: the prefetch failed, nothing is kept
    };

    // One get_many of `keys`; a failed one keeps nothing (each read then asks for itself, and
    // reports the failure). One Scope per thread at a time.
    Scope prefetch(const std::vector<std::string>& keys);

    Result<std::optional<std::string>, std::string> get(const std::string& key) override;
    Result<std::unordered_map<std::string, std::string>, std::string> get_many(
        const std::vector<std::string>& keys) override;

  private:
    CacheReads& cache_;
};

}  // namespace revalidator::ingress
