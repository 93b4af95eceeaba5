// Pending work: what the cache still owes Postgres. Events coalesce here by primary key, so a burst
// of 1,000 webhooks for 200 rows becomes one batch of 200 reads and one list rebuild. A key that
// could not be written comes back here and is retried. When too many keys pile up (a long
// outage), they collapse into one full resync, which keeps memory bounded.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace revalidator::worker {

struct Batch {
    std::vector<std::string> pks;                             // rows to re-read: received's keys
    std::unordered_map<std::string, std::uint64_t> received;  // pk -> earliest receive time (us)
    bool full = false;                                        // resync the whole table
    bool list = false;                                        // rebuild the list even with no pks
    std::string reason;                                       // why a full resync, for logs
};

class Pending {
  public:
    explicit Pending(std::size_t max_keys) : max_keys_(max_keys) {}

    void add(const std::string& pk, std::uint64_t received_us);
    void require_resync(const std::string& reason);
    void require_list();
    bool empty() const { return !full_ && !list_ && received_.empty(); }
    bool resync_required() const { return full_; }
    std::size_t size() const { return received_.size(); }

    Batch take();
    // Puts back what a batch could not finish (all of it after a failure).
    void restore(Batch b);

  private:
    std::size_t max_keys_;
    std::unordered_map<std::string, std::uint64_t> received_;
    bool full_ = false;
    bool list_ = false;
    std::string reason_;
};

}  // namespace revalidator::worker
