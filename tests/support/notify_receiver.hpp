// The service manager's side of runtime/notify.hpp, for tests: a unix datagram socket bound as
// systemd binds the one it names in NOTIFY_SOCKET, at a path or in the abstract namespace ('@').
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

namespace revalidator::testing {

class NotifyReceiver {
  public:
    // `address`: a path, or '@' and an abstract name, as NOTIFY_SOCKET gives it.
    explicit NotifyReceiver(std::string address)
        : address_(std::move(address)), fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (address_.empty() || address_.size() >= sizeof addr.sun_path) {
            throw std::runtime_error("bad notification address " + address_);
        }
        std::memcpy(addr.sun_path, address_.data(), address_.size());
        const bool abstract = address_[0] == '@';
        if (abstract) addr.sun_path[0] = '\0';
        const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                                   address_.size() + (abstract ? 0 : 1));
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), length) != 0) {
            throw std::runtime_error("cannot bind " + address_);
        }
    }
    ~NotifyReceiver() {
        ::close(fd_);
        if (address_[0] == '/') ::unlink(address_.c_str());
    }
    NotifyReceiver(const NotifyReceiver&) = delete;
    NotifyReceiver& operator=(const NotifyReceiver&) = delete;

    const std::string& address() const { return address_; }
    // "NOTIFY_SOCKET=<address>", for a child's environment.
    std::string env() const { return "NOTIFY_SOCKET=" + address_; }

    // The next datagram, waiting at most `timeout`; nullopt when none came.
    std::optional<std::string> next(std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
        char buf[4096];
        const auto n = ::recv(fd_, buf, sizeof buf, 0);
        if (n < 0) return std::nullopt;
        return std::string(buf, static_cast<std::size_t>(n));
    }

  private:
    std::string address_;
    int fd_;
};

}  // namespace revalidator::testing
