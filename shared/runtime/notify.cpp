#include "notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace revalidator::notify {

bool send(std::string_view state) {
    const char* address = std::getenv("NOTIFY_SOCKET");
    return address != nullptr && send_to(address, state);
}

bool send_to(const std::string& address, std::string_view state) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    // A path must be absolute; an abstract name is the bytes after '@', with a leading NUL in
    // place of the '@' and no terminating one (its length is the address's length).
    if (address.size() < 2 || (address[0] != '/' && address[0] != '@') ||
        address.size() >= sizeof addr.sun_path) {
        return false;
    }
    std::memcpy(addr.sun_path, address.data(), address.size());
    if (address[0] == '@') addr.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() +
                                               (address[0] == '/' ? 1 : 0));
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const auto sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                               reinterpret_cast<const sockaddr*>(&addr), length);
    ::close(fd);
    return sent == static_cast<ssize_t>(state.size());
}

}  // namespace revalidator::notify
