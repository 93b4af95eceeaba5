#include "mc_pipeline.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>

#include <libmemcached/memcached.h>

#include "cache/cache_key.hpp"
#include "meta_writes.hpp"

namespace revalidator::worker {

namespace {

using Clock = std::chrono::steady_clock;

// How long a server that failed is left alone: the RETRY_TIMEOUT of the sink's libmemcached
// handles (shared/cache/mc_client.cpp), so that both paths give up on a server alike.
constexpr auto kRetryAfter = std::chrono::seconds(1);
constexpr std::size_t kReadBytes = 64 * 1024;

struct Address {
    sockaddr_storage addr{};
    socklen_t length = 0;
    int family = AF_UNSPEC;
};

// One server: its connection, and the round it carries in the current chunk.
struct Server {
    std::string host;
    in_port_t port = 0;
    int fd = -1;
    bool connecting = false;
    std::vector<Address> addresses;  // of the connection being opened
    std::size_t next_address = 0;
    Clock::time_point connect_by{}, last_progress{}, retry_at{};
    bool failed = false;  // in this call: its keys are Unreachable without trying
    std::optional<MetaWriteRound> round;
    std::string out, in;
    std::size_t sent = 0;
};

// Whether a connection that finished its last round cleanly is still open with nothing to read:
// a server that restarted closed it, and bytes nobody asked for mean it is out of step.
bool idle_and_open(int fd) {
    char c;
    ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// Closes with a reset: what this side's kernel still holds for the server is dropped, not
// delivered after the call gave up on it (a frozen server would apply it when it thaws).
void close_abortively(int fd) {
    linger now{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &now, sizeof now);
    ::close(fd);
}

std::vector<Address> resolve(const std::string& host, in_port_t port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    std::vector<Address> out;
    if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return out;
    for (addrinfo* a = found; a; a = a->ai_next) {
        if (a->ai_addrlen > sizeof(sockaddr_storage)) continue;
        Address address;
        std::memcpy(&address.addr, a->ai_addr, a->ai_addrlen);
        address.length = a->ai_addrlen;
        address.family = a->ai_family;
        out.push_back(address);
    }
    ::freeaddrinfo(found);
    return out;
}

}  // namespace

struct McPipeline::Impl {
    memcached_st* ring;
    McTimeouts timeouts;
    WriteGate gate;
    std::size_t chunk_bytes;
    std::vector<Server> servers;
    std::unordered_map<const memcached_instance_st*, std::size_t> by_instance;
    // The call being served: a set (with its expiry) or a delete per key.
    struct Op {
        std::string_view key, value;
        std::uint32_t ttl_s = 0;
        bool remove = false;
    };
    std::vector<Op> ops;
    std::vector<WriteStatus> statuses;

    Impl(const memcached_st* handle, McTimeouts t, WriteGate g, std::size_t chunk)
        : ring(clone_memcached(handle)), timeouts(t), gate(std::move(g)), chunk_bytes(chunk) {
        for (uint32_t i = 0; i < memcached_server_count(ring); ++i) {
            const memcached_instance_st* s = memcached_server_instance_by_position(ring, i);
            Server server;
            server.host = memcached_server_name(s);
            server.port = memcached_server_port(s);
            servers.push_back(std::move(server));
            by_instance.emplace(s, i);
        }
    }
    ~Impl() {
        for (auto& s : servers) {
            if (s.fd >= 0) ::close(s.fd);
        }
        memcached_free(ring);
    }

    bool may_write() const { return !gate.open || gate.open(); }

    // The server libmemcached's ring gives the key; nullptr when it gives none.
    Server* server_for(std::string_view key) {
        memcached_return_t rc{};
        const memcached_instance_st* s = memcached_server_by_key(ring, key.data(), key.size(), &rc);
        if (!s) return nullptr;
        if (auto it = by_instance.find(s); it != by_instance.end()) return &servers[it->second];
        for (auto& server : servers) {
            if (server.port == memcached_server_port(s) && server.host == memcached_server_name(s))
                return &server;
        }
        return nullptr;
    }

    void add(MetaWriteRound& round, std::string& out, std::size_t i) {
        const Op& op = ops[i];
        if (op.remove) {
            round.add_delete(out, i, op.key);
        } else {
            round.add_set(out, i, op.key, op.value, op.ttl_s);
        }
    }

    void settle(const MetaWriteRound& round, WriteStatus unknown) {
        for (std::size_t k = 0; k < round.size(); ++k) {
            switch (round.outcome(k)) {
                case WriteOutcome::Stored:
                    statuses[round.item(k)] = WriteStatus::Ok;
                    break;
                case WriteOutcome::Refused:
                    statuses[round.item(k)] = WriteStatus::Refused;
                    break;
                case WriteOutcome::Unknown:
                    statuses[round.item(k)] = unknown;
                    break;
            }
        }
    }

    void clear(Server& s) {
        s.round.reset();
        s.out.clear();
        s.in.clear();
        s.sent = 0;
    }

    // The server's keys of this round that are not placed yet are Unreachable, and so is the
    // server for the rest of the call.
    void fail(Server& s, Clock::time_point now) {
        if (s.fd >= 0) close_abortively(s.fd);
        s.fd = -1;
        s.connecting = false;
        s.failed = true;
        s.retry_at = now + kRetryAfter;
        if (s.round) settle(*s.round, WriteStatus::Unreachable);
        clear(s);
    }

    // Starts a connection on the next address; false when none is left.
    bool try_connect(Server& s, Clock::time_point now) {
        while (s.next_address < s.addresses.size()) {
            const Address& a = s.addresses[s.next_address++];
            int fd = ::socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) continue;
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.length);
            if (rc == 0 || errno == EINPROGRESS) {
                s.fd = fd;
                s.connecting = rc != 0;
                s.last_progress = now;
                return true;
            }
            ::close(fd);
        }
        return false;
    }

    // A connection for the round: the open one if it is clean, otherwise a new one.
    bool open(Server& s, Clock::time_point now) {
        if (s.fd >= 0) {
            if (idle_and_open(s.fd)) {
                s.last_progress = now;
                return true;
            }
            close_abortively(s.fd);
            s.fd = -1;
        }
        s.addresses = resolve(s.host, s.port);
        s.next_address = 0;
        s.connect_by = now + timeouts.connect;
        return try_connect(s, now);
    }

    void connected(Server& s, Clock::time_point now) {
        int error = 0;
        socklen_t length = sizeof error;
        if (::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
        if (error == 0) {
            s.connecting = false;
            s.last_progress = now;
            return;
        }
        ::close(s.fd);
        s.fd = -1;
        if (!try_connect(s, now)) fail(s, now);
    }

    // Sends what the socket takes, reads what is there, and moves the round on. Returns when the
    // socket would block, the round is settled, or the server failed.
    void pump(Server& s, Clock::time_point now) {
        while (s.sent < s.out.size()) {
            ssize_t n = ::send(s.fd, s.out.data() + s.sent, s.out.size() - s.sent, MSG_NOSIGNAL);
            if (n > 0) {
                s.sent += static_cast<std::size_t>(n);
                s.last_progress = now;
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                break;
            } else {
                return fail(s, now);
            }
        }
        for (;;) {
            std::size_t had = s.in.size();
            s.in.resize(had + kReadBytes);
            ssize_t n = ::recv(s.fd, s.in.data() + had, kReadBytes, 0);
            s.in.resize(had + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
            if (n > 0) {
                s.last_progress = now;
                if (static_cast<std::size_t>(n) < kReadBytes) break;
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                break;
            } else {
                return fail(s, now);  // closed, or reset
            }
        }
        s.in.erase(0, s.round->read(s.in));
        if (s.round->broken()) return fail(s, now);
        if (!s.round->done()) return;
        // Nothing was asked after `mn`: bytes beyond it are out of step.
        if (!s.in.empty()) return fail(s, now);
        std::vector<std::size_t> again;
        for (std::size_t k = 0; k < s.round->size(); ++k) {
            if (s.round->outcome(k) == WriteOutcome::Unknown) again.push_back(s.round->item(k));
        }
        settle(*s.round, WriteStatus::Ok);  // the Unknown ones are answered again below
        clear(s);
        if (again.empty()) return;
        // An error line the quiet round could not place: those keys again, each answered.
        s.round.emplace(false);
        for (std::size_t item : again) add(*s.round, s.out, item);
        s.round->end(s.out);
        pump(s, now);
    }

    // Runs the servers' rounds until each is settled or failed, each wait bounded: a server by
    // `connect` while connecting and by `io` without progress, all of them by `deadline`.
    void run(std::vector<Server*>& busy, Clock::time_point deadline) {
        std::vector<pollfd> fds;
        for (;;) {
            Clock::time_point now = Clock::now();
            for (Server* s : busy) {
                if (s->round && !s->connecting) pump(*s, now);
            }
            std::erase_if(busy, [](Server* s) { return !s->round; });
            Clock::time_point wake = deadline;
            for (Server* s : busy) {
                Clock::time_point by =
                    s->connecting ? s->connect_by : s->last_progress + timeouts.io;
                if (now >= by || now >= deadline) {
                    fail(*s, now);
                } else {
                    wake = std::min(wake, by);
                }
            }
            std::erase_if(busy, [](Server* s) { return !s->round; });
            if (busy.empty()) return;
            fds.clear();
            for (Server* s : busy) {
                short events = s->connecting ? POLLOUT : POLLIN;
                if (!s->connecting && s->sent < s->out.size()) events |= POLLOUT;
                fds.push_back({s->fd, events, 0});
            }
            auto wait = std::chrono::ceil<std::chrono::milliseconds>(wake - now);
            int ready = ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
            if (ready < 0 && errno != EINTR) {
                for (Server* s : busy) fail(*s, Clock::now());
                return;
            }
            now = Clock::now();
            for (std::size_t k = 0; k < busy.size(); ++k) {
                if (busy[k]->connecting && fds[k].revents != 0) connected(*busy[k], now);
            }
        }
    }

    // One chunk, from `first`: returns the item after it.
    std::size_t chunk(std::size_t first) {
        const Clock::time_point start = Clock::now();
        std::vector<Server*> busy;
        std::size_t bytes = 0, i = first;
        for (; i < ops.size() && (i == first || bytes < chunk_bytes); ++i) {
            const Op& op = ops[i];
            bytes += op.key.size() + op.value.size();
            // libmemcached's own key check refuses every byte over 0x7F: the sink's is used.
            if (check_key(op.key)) {
                statuses[i] = WriteStatus::Refused;
                continue;
            }
            Server* s = server_for(op.key);
            if (!s) {
                statuses[i] = WriteStatus::Refused;
                continue;
            }
            if (s->failed || start < s->retry_at) {
                statuses[i] = WriteStatus::Unreachable;
                continue;
            }
            if (!s->round) {
                s->round.emplace(true);
                busy.push_back(s);
            }
            add(*s->round, s->out, i);
        }
        for (Server* s : busy) {
            s->round->end(s->out);
            if (!open(*s, start)) fail(*s, start);
        }
        run(busy, start + timeouts.bound());
        return i;
    }

    std::vector<WriteStatus> run_ops() {
        statuses.assign(ops.size(), WriteStatus::Ok);
        for (auto& s : servers) s.failed = false;
        bool reported = false;
        try {
            for (std::size_t i = 0; i < ops.size();) {
                if (!may_write()) throw Fenced("the lease is not confirmed fresh; writes stop");
                i = chunk(i);
                if (gate.closed_during_write && !reported && !may_write()) {
                    gate.closed_during_write();
                    reported = true;
                }
            }
        } catch (...) {
            // Never leave a connection with answers unread for the next call.
            for (auto& s : servers) {
                if (s.round) fail(s, Clock::now());
            }
            throw;
        }
        return std::move(statuses);
    }
};

McPipeline::McPipeline(const memcached_st* ring, McTimeouts timeouts, WriteGate gate,
                       std::size_t chunk_bytes)
    : impl_(std::make_unique<Impl>(ring, timeouts, std::move(gate), chunk_bytes)) {}

McPipeline::~McPipeline() = default;

std::vector<WriteStatus> McPipeline::set_many(std::span<const CacheItem> items) {
    impl_->ops.clear();
    for (const auto& item : items) {
        impl_->ops.push_back({.key = item.key,
                              .value = item.value,
                              .ttl_s = static_cast<std::uint32_t>(item.ttl.count())});
    }
    return impl_->run_ops();
}

std::vector<WriteStatus> McPipeline::remove_many(std::span<const std::string> keys) {
    impl_->ops.clear();
    for (const auto& key : keys)
        impl_->ops.push_back({.key = key, .value = {}, .ttl_s = 0, .remove = true});
    return impl_->run_ops();
}

}  // namespace revalidator::worker
