// What the cluster scenario knows about the cache's progress: every row change it committed in
// Postgres (key, version, when), whether its webhook was acknowledged, and what an observer polling
// the cache saw. From that: when each change became visible (staleness), which acknowledged changes
// never did (acks lost), whether a key ever moved back to an older version, and whether a read
// answered older than the cache had already shown.
//
// Versions: every change bumps the row's `version` column (an INSERT makes version 1), and a
// DELETE is recorded as version 0, visible once the key is absent. Keys are never reused (bigint
// serial and uuid keys), so a key's versions only go up.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "samples.hpp"

namespace revalidator::cluster {

class ChangeLog {
  public:
    // A change committed at `at`; returns its index for acked().
    std::size_t committed(const std::string& key, int version, Clock::time_point at);
    void acked(std::size_t change);

    // Keys with a change not yet seen in the cache.
    std::vector<std::string> pending_keys() const;
    // What the cache held for `key` (nullopt: absent) when a read of it returned at `at`.
    void observe(const std::string& key, std::optional<int> version, Clock::time_point at);

    // Every change committed before `t` has been seen.
    bool seen_all_before(Clock::time_point t) const;
    // A change to `key` committed at or after `t`, or one not yet seen.
    bool in_flight(const std::string& key, Clock::time_point t) const;
    // The cache had shown a version of `key` newer than `version` before `t`.
    bool newer_shown_before(const std::string& key, int version, Clock::time_point t) const;

    struct Summary {
        long changes = 0, acked = 0, acked_unseen = 0, unacked_seen = 0, backwards = 0;
    };
    // Adds commit to first seen, for every acknowledged change seen, at its commit time.
    void staleness(Samples& into) const;
    // Adds commit to first seen for every change (of the keys starting with `prefix`),
    // acknowledged or not, at its commit time; a change never seen counts as infinitely late.
    void visibility(Samples& into, const std::string& prefix = "") const;
    Summary summary() const;

  private:
    struct Change {
        std::string key;
        int version;
        Clock::time_point committed;
        bool acked = false;
        std::optional<Clock::time_point> seen;
    };
    struct Key {
        int best = -1;                                              // highest version seen present
        std::vector<std::pair<int, Clock::time_point>> first_seen;  // each new best, when
        std::vector<std::size_t> unseen;                            // indexes into changes_
        Clock::time_point last_commit{};
    };
    mutable std::mutex mu_;
    std::vector<Change> changes_;
    std::map<std::string, Key> keys_;
    long backwards_ = 0;
};

}  // namespace revalidator::cluster
