#include "feeds.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace loadgen {

CyclingFeed::CyclingFeed(std::vector<std::string> pool, double rate)
    : pool_(std::move(pool)), rate_(rate), start_(Clock::now()) {
    if (pool_.empty()) throw std::invalid_argument("CyclingFeed needs at least one request");
}

void CyclingFeed::restart(Clock::time_point start) {
    start_ = start;
    i_ = 0;
}

Clock::time_point CyclingFeed::due(std::uint64_t i) const {
    return start_ + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(static_cast<double>(i) / rate_));
}

std::uint64_t CyclingFeed::behind(Clock::time_point now) const {
    if (rate_ <= 0 || now <= start_) return 0;
    auto due_by_now =
        static_cast<std::uint64_t>(std::chrono::duration<double>(now - start_).count() * rate_);
    return due_by_now > i_ ? due_by_now - i_ : 0;
}

std::optional<Request> CyclingFeed::next(Clock::time_point now) {
    Clock::time_point intended = now;
    if (rate_ > 0) {
        intended = due(i_);
        if (intended > now) return std::nullopt;
    }
    const std::string& bytes = pool_[i_ % pool_.size()];
    return Request{&bytes, i_++, intended};
}

Clock::time_point CyclingFeed::next_due() const {
    return rate_ > 0 ? due(i_) : Clock::time_point::min();
}

std::optional<Request> ListFeed::next(Clock::time_point now) {
    if (exhausted()) return std::nullopt;
    std::size_t i = i_++;
    return Request{&requests_[i], i, now};
}

Clock::time_point ListFeed::next_due() const {
    return exhausted() ? Clock::time_point::max() : Clock::time_point::min();
}

QueueFeed::QueueFeed() : efd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (efd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
}

QueueFeed::~QueueFeed() {
    ::close(efd_);
}

void QueueFeed::wake() {
    std::uint64_t one = 1;
    ssize_t put = ::write(efd_, &one, sizeof(one));
    (void)put;  // the counter is only full when the engine is already due to wake up
}

void QueueFeed::push(const std::string& bytes, std::uint64_t tag, Clock::time_point intended) {
    {
        std::lock_guard lock(mu_);
        q_.push_back(Request{&bytes, tag, intended});
    }
    wake();
}

void QueueFeed::close() {
    closed_ = true;
    wake();
}

std::optional<Request> QueueFeed::next(Clock::time_point) {
    std::lock_guard lock(mu_);
    if (q_.empty()) return std::nullopt;
    Request r = q_.front();
    q_.pop_front();
    return r;
}

bool QueueFeed::exhausted() const {
    std::lock_guard lock(mu_);
    return closed_ && q_.empty();
}

}  // namespace loadgen
