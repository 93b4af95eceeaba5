#include "output_budget.hpp"

namespace revalidator::http {

void OutputBudget::hold(const Answer& a) {
    if (!tracked(a)) {
        owned_ += a.size();
        return;
    }
    owned_ += a.head.size();
    std::lock_guard lock(mu_);
    if (holders_[a.body.get()]++ == 0) shared_ += a.body->size();
}

void OutputBudget::release(const Answer& a) {
    if (!tracked(a)) {
        owned_ -= a.size();
        return;
    }
    owned_ -= a.head.size();
    std::lock_guard lock(mu_);
    auto it = holders_.find(a.body.get());
    if (it == holders_.end()) return;
    if (--it->second == 0) {
        shared_ -= a.body->size();
        holders_.erase(it);
    }
}

}  // namespace revalidator::http
