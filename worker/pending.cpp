#include "pending.hpp"

#include <algorithm>

namespace revalidator::worker {

void Pending::add(const std::string& pk, std::uint64_t received_us) {
    auto [it, inserted] = received_.try_emplace(pk, received_us);
    if (!inserted) it->second = std::min(it->second, received_us);
    if (received_.size() > max_keys_) {
        require_resync("too many pending keys");
    }
}

void Pending::require_resync(const std::string& reason) {
    if (!full_) reason_ = reason;
    full_ = true;
    // A full resync rewrites every key; the individual keys are kept only for staleness figures
    // while they are few.
    if (received_.size() > max_keys_) received_.clear();
}

void Pending::require_list() {
    list_ = true;
}

Batch Pending::take() {
    Batch b;
    b.full = full_;
    b.list = list_;
    b.reason = std::move(reason_);
    b.pks.reserve(received_.size());
    for (const auto& [pk, _] : received_) b.pks.push_back(pk);
    b.received = std::move(received_);
    received_.clear();
    full_ = list_ = false;
    reason_.clear();
    return b;
}

void Pending::restore(Batch b) {
    for (auto& [pk, ts] : b.received) add(pk, ts);
    if (b.full) require_resync(b.reason.empty() ? "retry" : b.reason);
    if (b.list) require_list();
}

}  // namespace revalidator::worker
