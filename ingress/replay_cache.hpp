// Replay cache: the Standard Webhooks `webhook-id`s accepted recently, each until the moment its
// timestamp leaves the tolerance window (after that the timestamp check refuses it on its own).
// Memory is bounded by a hard cap on entries. When the cache is full of live entries a new id is
// refused (Full -> 503 with Retry-After), never admitted by evicting a live one: evicting would
// reopen a replay window on demand for anyone able to fill the cache, while refusing only delays
// a legitimate sender, which retries the same message. Thread-safe: HTTP handlers share it.
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace revalidator::ingress {

class ReplayCache {
  public:
    enum class Claim { Fresh, Replayed, Full };

    explicit ReplayCache(std::size_t capacity);

    // Records `id` as seen until `expires_at` (unix seconds) unless it is already recorded.
    // Entries whose expiry is before `now` are dropped first.
    Claim claim(std::string_view id, std::int64_t expires_at, std::int64_t now);
    // Forgets `id`: its request was authenticated but not queued, so the sender's retry of the
    // same message must be let in.
    void release(std::string_view id);
    std::size_t size() const;

  private:
    void evict_expired(std::int64_t now);

    const std::size_t capacity_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, std::int64_t> expiry_by_id_;
    // Ordered by expiry; points at keys of expiry_by_id_ (stable while the element lives).
    std::set<std::pair<std::int64_t, const std::string*>> by_expiry_;
};

}  // namespace revalidator::ingress
