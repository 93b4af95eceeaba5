#include "change_log.hpp"

#include <algorithm>
#include <iostream>
#include <limits>

namespace revalidator::cluster {

std::size_t ChangeLog::committed(const std::string& key, int version, Clock::time_point at) {
    std::lock_guard lock(mu_);
    changes_.push_back({key, version, at, false, std::nullopt});
    Key& k = keys_[key];
    k.unseen.push_back(changes_.size() - 1);
    k.last_commit = std::max(k.last_commit, at);
    return changes_.size() - 1;
}

void ChangeLog::acked(std::size_t change) {
    std::lock_guard lock(mu_);
    changes_.at(change).acked = true;
}

std::vector<std::string> ChangeLog::pending_keys() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& [key, k] : keys_) {
        if (!k.unseen.empty()) out.push_back(key);
    }
    return out;
}

void ChangeLog::observe(const std::string& key, std::optional<int> version, Clock::time_point at) {
    std::lock_guard lock(mu_);
    Key& k = keys_[key];
    if (version) {
        if (*version < k.best) {
            ++backwards_;
            std::cerr << "backwards: " << key << " version " << k.best << " -> " << *version
                      << "\n";
        } else if (*version > k.best) {
            k.best = *version;
            k.first_seen.emplace_back(*version, at);
        }
    }
    // Present at v: every change up to v is visible. Absent: the row's DELETE is, and with it
    // every change before it (an absent key alone is not: it may be one a restarted Memcached
    // server lost).
    const bool deleted = !version && std::any_of(k.unseen.begin(), k.unseen.end(),
                                                 [&](auto i) { return changes_[i].version == 0; });
    std::erase_if(k.unseen, [&](std::size_t i) {
        Change& c = changes_[i];
        const bool visible = version ? c.version != 0 && c.version <= *version : deleted;
        if (visible) c.seen = at;
        return visible;
    });
}

bool ChangeLog::seen_all_before(Clock::time_point t) const {
    std::lock_guard lock(mu_);
    for (const auto& [key, k] : keys_) {
        for (std::size_t i : k.unseen) {
            if (changes_[i].committed < t) return false;
        }
    }
    return true;
}

bool ChangeLog::in_flight(const std::string& key, Clock::time_point t) const {
    std::lock_guard lock(mu_);
    auto it = keys_.find(key);
    if (it == keys_.end()) return false;
    return !it->second.unseen.empty() || it->second.last_commit >= t;
}

bool ChangeLog::newer_shown_before(const std::string& key, int version, Clock::time_point t) const {
    std::lock_guard lock(mu_);
    auto it = keys_.find(key);
    if (it == keys_.end()) return false;
    return std::any_of(it->second.first_seen.begin(), it->second.first_seen.end(),
                       [&](const auto& seen) { return seen.first > version && seen.second < t; });
}

ChangeLog::Summary ChangeLog::summary() const {
    std::lock_guard lock(mu_);
    Summary s;
    s.changes = static_cast<long>(changes_.size());
    s.backwards = backwards_;
    for (const auto& c : changes_) {
        if (c.acked) {
            ++s.acked;
            if (!c.seen) ++s.acked_unseen;
        } else if (c.seen) {
            ++s.unacked_seen;
        }
    }
    return s;
}

void ChangeLog::staleness(Samples& into) const {
    std::lock_guard lock(mu_);
    for (const auto& c : changes_) {
        if (c.acked && c.seen) {
            into.add(c.committed,
                     std::chrono::duration<double, std::milli>(*c.seen - c.committed).count());
        }
    }
}

void ChangeLog::visibility(Samples& into, const std::string& prefix) const {
    std::lock_guard lock(mu_);
    for (const auto& c : changes_) {
        if (c.key.rfind(prefix, 0) != 0) continue;
        into.add(c.committed,
                 c.seen ? std::chrono::duration<double, std::milli>(*c.seen - c.committed).count()
                        : std::numeric_limits<double>::infinity());
    }
}

}  // namespace revalidator::cluster
