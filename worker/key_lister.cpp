#include "key_lister.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <utility>

#include "metadump.hpp"
#include "runtime/log.hpp"

namespace revalidator::worker {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class Socket {
  public:
    explicit Socket(int fd) : fd_(fd) {}
    ~Socket() {
        if (fd_ >= 0) ::close(fd_);
    }
    Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    Socket& operator=(Socket&&) = delete;
    int fd() const { return fd_; }

  private:
    int fd_;
};

// Waits for `events` on `fd` until `deadline`; throws when it passes first.
void wait_for(int fd, short events, Clock::time_point deadline, const char* what) {
    for (;;) {
        const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) throw std::runtime_error(std::string("timed out ") + what);
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
        if (n > 0) return;
        if (n < 0 && errno != EINTR) throw std::runtime_error(std::strerror(errno));
    }
}

Socket connect_to(const HostPort& server, Clock::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(server.port);
    if (int rc = ::getaddrinfo(server.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        throw std::runtime_error(std::string("cannot resolve: ") + ::gai_strerror(rc));
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, ::freeaddrinfo);
    Socket s(::socket(found->ai_family, found->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (s.fd() < 0) throw std::runtime_error(std::strerror(errno));
    if (::connect(s.fd(), found->ai_addr, found->ai_addrlen) != 0 && errno != EINPROGRESS) {
        throw std::runtime_error(std::string("cannot connect: ") + std::strerror(errno));
    }
    wait_for(s.fd(), POLLOUT, deadline, "connecting");
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) throw std::runtime_error(std::string("cannot connect: ") + std::strerror(err));
    return s;
}

void send_all(const Socket& s, std::string_view command,
              const std::function<Clock::time_point()>& deadline) {
    std::size_t sent = 0;
    while (sent < command.size()) {
        wait_for(s.fd(), POLLOUT, deadline(), "sending");
        const ssize_t n =
            ::send(s.fd(), command.data() + sent, command.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            throw std::runtime_error(std::strerror(errno));
        if (n > 0) sent += static_cast<std::size_t>(n);
    }
}

// Reads into `buf` what is there; throws at the deadline or when the server closes.
std::string_view receive(const Socket& s, std::span<char> buf,
                         const std::function<Clock::time_point()>& deadline) {
    for (;;) {
        wait_for(s.fd(), POLLIN, deadline(), "reading");
        const ssize_t n = ::recv(s.fd(), buf.data(), buf.size(), 0);
        if (n == 0) throw std::runtime_error("connection closed");
        if (n > 0) return {buf.data(), static_cast<std::size_t>(n)};
        if (errno != EAGAIN && errno != EINTR) throw std::runtime_error(std::strerror(errno));
    }
}

// One metadump, read to its end (Done, Busy or Failed); throws when the server cannot be read.
// The server is asked first whether its crawler runs: if so, the metadump is not sent
// (crawler_running says why), and the answer is the BUSY it stands for.
MetadumpReader dump_once(const HostPort& server, std::string_view prefix, milliseconds io,
                         Clock::time_point end, std::size_t max_keys) {
    const std::function<Clock::time_point()> deadline = [&] {
        return std::min(end, Clock::now() + io);
    };
    Socket s = connect_to(server, deadline());
    std::array<char, 64 * 1024> buf;
    MetadumpReader reader{std::string(prefix), max_keys};
    send_all(s, "stats\r\n", deadline);
    std::string stats;
    while (!stats.ends_with("END\r\n")) {
        if (stats.size() > buf.size()) throw std::runtime_error("a stats answer too long");
        stats += receive(s, buf, deadline);
    }
    if (crawler_running(stats) == true) {
        reader.feed("BUSY lru_crawler_running 1\r\n");
        return reader;
    }
    send_all(s, "lru_crawler metadump all\r\n", deadline);
    while (reader.state() == MetadumpReader::State::More) reader.feed(receive(s, buf, deadline));
    return reader;
}

}  // namespace

McKeyLister::McKeyLister(std::vector<HostPort> servers, milliseconds io, milliseconds total,
                         std::size_t max_keys, CrawlerWait wait)
    : servers_(std::move(servers)),
      io_(io),
      total_(total),
      max_keys_(max_keys),
      wait_(std::move(wait)) {}

std::optional<std::vector<std::string>> McKeyLister::keys(std::string_view prefix) {
    std::vector<std::string> all;
    for (const auto& server : servers_) {
        const std::string name = server.host + ":" + std::to_string(server.port);
        try {
            const auto end = Clock::now() + total_;
            auto answer = dump_when_free(
                [&] { return dump_once(server, prefix, io_, end, max_keys_); }, end, wait_);
            if (!answer) {
                // Another crawl held the crawler all along: neither an outage nor an empty cache.
                if (!busy_) {
                    log::info(
                        "the cache's crawler stayed busy with another crawl; passes go "
                        "without the listing until it is free",
                        {{"server", name}});
                }
                busy_ = true;
                return std::nullopt;
            }
            if (answer->state() == MetadumpReader::State::Failed)
                throw std::runtime_error(answer->error());
            auto keys = answer->take_keys();
            all.insert(all.end(), std::make_move_iterator(keys.begin()),
                       std::make_move_iterator(keys.end()));
        } catch (const std::exception& e) {
            if (!failing_) {
                log::warn("cannot list the cache's keys; passes go without until it can",
                          {{"server", name}, {"error", e.what()}});
            }
            failing_ = true;
            return std::nullopt;
        }
    }
    if (failing_ || busy_) log::info("the cache's keys can be listed again");
    failing_ = busy_ = false;
    return all;
}

}  // namespace revalidator::worker
