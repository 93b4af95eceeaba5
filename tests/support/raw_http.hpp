// HTTP over a raw loopback socket: for requests an HTTP client library would refuse to send
// (malformed, hostile, cut short) and for what it would hide (how many answers came, whether the
// server closed the connection).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace revalidator::testing {

// A TCP socket connected to 127.0.0.1:`port`, or -1. The caller closes it.
inline int connect_loopback(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// How many HTTP/1.1 status lines `bytes` holds: "HTTP/1.1 ", three digits and a space (an error's
// detail may mention HTTP/1.1 too).
inline int status_lines(std::string_view bytes) {
    int lines = 0;
    for (std::size_t at = 0; (at = bytes.find("HTTP/1.1 ", at)) != std::string_view::npos; ++at) {
        const std::string_view code = bytes.substr(at + 9, 4);
        const auto digit = [&](std::size_t i) {
            return std::isdigit(static_cast<unsigned char>(code[i])) != 0;
        };
        if (code.size() == 4 && digit(0) && digit(1) && digit(2) && code[3] == ' ') ++lines;
    }
    return lines;
}

struct RawExchange {
    std::string received;
    bool closed = false;  // the server ended the connection
    int responses = 0;    // status lines received
};

// Sends `request` as it is to 127.0.0.1:`port`, then reads until the server closes the
// connection, `enough(received so far)` is true, or 10 s pass without a byte (a thousand reads
// at most, so that a server that never stops sending ends the exchange too).
inline RawExchange raw_exchange(int port, std::string_view request,
                                const std::function<bool(const std::string&)>& enough = {}) {
    RawExchange e;
    const int fd = connect_loopback(port);
    if (fd < 0) return e;
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buf[65536];
    for (int reads = 0; reads < 1000; ++reads) {
        const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) {
            e.closed = n == 0;
            break;
        }
        e.received.append(buf, static_cast<std::size_t>(n));
        if (enough && enough(e.received)) break;
    }
    ::close(fd);
    e.responses = status_lines(e.received);
    return e;
}

}  // namespace revalidator::testing
