// `loadgen cache-writes`: how fast a batch of keys is written to Memcached, each key with its own
// outcome, by each way the worker could write them. One call writes --keys keys of about --bytes
// bytes (the same keys every time, as a batch of changed rows overwrites its keys). Every way
// writes once a round, in turn, for --repeat rounds, so that what else the machine does falls on
// all of them alike; the median of each is printed with its ratio to the first (the sink).
//
// The ways:
//   sink (4 conns)   the worker's own McSink::set_many, with --cache-connections' default
//   libmemcached N   memcached_set per key, one blocking round trip each, over N connections at
//                    once (the sink's set_many before the pipeline; N = 4 was its default)
//   meta q+mn        a prototype: the meta protocol's `ms` in quiet mode (a stored key is not
//                    answered), pipelined on one non-blocking socket per server, ended by `mn`
//   meta O           the same with every `ms` answered (`HD O<opaque>`): memcached 1.6 sends an
//                    error line without the opaque, so only an answer per key names its key
//   ... 2/server     the same over two sockets per server
// Keys go to the server libmemcached's ketama ring names (memcached_server_by_key).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmemcached/memcached.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cache/mc_client.hpp"
#include "format.hpp"
#include "mc_sink.hpp"
#include "modes.hpp"

namespace loadgen {

namespace {

using revalidator::worker::CacheItem;
using revalidator::worker::WriteStatus;

struct CacheWritesOptions {
    std::string memcached = "127.0.0.1:11211";
    std::size_t keys = 10'000;
    std::size_t bytes = 600;
    unsigned repeat = 5;
    std::vector<int> connections{4, 8, 16};
    std::string only;  // measure only the ways whose name contains this
    std::string json;
};

struct Batch {
    std::vector<std::string> keys, values;
    std::vector<CacheItem> items;
};

Batch make_batch(std::size_t n, std::size_t bytes) {
    Batch b;
    for (std::size_t i = 0; i < n; ++i) {
        b.keys.push_back("/bench-writes/" + std::to_string(i));
        std::string v = "{\"id\": " + std::to_string(i) + ", \"body\": \"";
        v.resize(bytes > v.size() + 2 ? bytes - 2 : v.size(), 'x');
        b.values.push_back(v + "\"}");
    }
    for (std::size_t i = 0; i < n; ++i) b.items.push_back({b.keys[i], b.values[i]});
    return b;
}

// The sink's set_many before the pipeline: memcached_set per key over `lanes` handles at once.
class LibmemcachedLanes {
  public:
    LibmemcachedLanes(const std::string& servers, int lanes) {
        handles_.push_back(revalidator::connect_memcached(servers, revalidator::McTimeouts{}));
        for (int i = 1; i < lanes; ++i)
            handles_.push_back(revalidator::clone_memcached(handles_[0]));
    }
    ~LibmemcachedLanes() {
        for (auto* h : handles_) memcached_free(h);
    }
    LibmemcachedLanes(const LibmemcachedLanes&) = delete;
    LibmemcachedLanes& operator=(const LibmemcachedLanes&) = delete;

    std::size_t set_many(const std::vector<CacheItem>& items) {
        std::atomic<std::size_t> ok{0};
        auto lane = [&](std::size_t l) {
            for (std::size_t i = l; i < items.size(); i += handles_.size()) {
                const auto& it = items[i];
                if (memcached_set(handles_[l], it.key.data(), it.key.size(), it.value.data(),
                                  it.value.size(), 0, 0) == MEMCACHED_SUCCESS)
                    ++ok;
            }
        };
        std::vector<std::thread> threads;
        for (std::size_t l = 1; l < handles_.size(); ++l) threads.emplace_back(lane, l);
        lane(0);
        for (auto& t : threads) t.join();
        return ok;
    }

  private:
    std::vector<memcached_st*> handles_;
};

// The prototype: one blocking-free socket per server, every command of the batch written while
// the answers are read, poll() on all of them.
class MetaPrototype {
  public:
    MetaPrototype(const std::string& servers, bool quiet, int per_server = 1)
        : ring_(revalidator::connect_memcached(servers)), quiet_(quiet), per_server_(per_server) {}
    ~MetaPrototype() {
        for (auto& c : conns_) ::close(c.fd);
        memcached_free(ring_);
    }
    MetaPrototype(const MetaPrototype&) = delete;
    MetaPrototype& operator=(const MetaPrototype&) = delete;

    std::size_t set_many(const std::vector<CacheItem>& items) {
        for (auto& c : conns_) {
            c.out.clear();
            c.sent = 0;
            c.in.clear();
            c.expect = 0;
            c.done = false;
        }
        for (std::size_t i = 0; i < items.size(); ++i) {
            Conn& c = conn_for(items[i].key, i);
            c.out += "ms ";
            c.out += items[i].key;
            c.out += ' ';
            c.out += std::to_string(items[i].value.size());
            c.out += quiet_ ? " q O" : " O";
            c.out += std::to_string(i);
            c.out += "\r\n";
            c.out += items[i].value;
            c.out += "\r\n";
            ++c.expect;
        }
        for (auto& c : conns_) {
            if (quiet_) c.out += "mn\r\n";
            c.done = c.expect == 0;
        }
        std::size_t errors = 0;
        std::vector<pollfd> fds;
        while (std::any_of(conns_.begin(), conns_.end(), [](const Conn& c) { return !c.done; })) {
            // Send until the socket takes no more, read what is there, and only then wait: a
            // wake-up per answer costs more than the answer.
            for (auto& c : conns_) {
                while (c.sent < c.out.size()) {
                    ssize_t n =
                        ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
                    if (n <= 0) break;
                    c.sent += static_cast<std::size_t>(n);
                }
                for (;;) {
                    char buf[65536];
                    ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
                    if (n == 0) throw std::runtime_error("server closed");
                    if (n < 0) break;
                    c.in.append(buf, static_cast<std::size_t>(n));
                    std::size_t pos = 0, eol;
                    while ((eol = c.in.find("\r\n", pos)) != std::string::npos) {
                        std::string_view line(c.in.data() + pos, eol - pos);
                        pos = eol + 2;
                        if (quiet_ && line == "MN") {
                            c.done = true;
                        } else if (!quiet_) {
                            if (line.substr(0, 3) != "HD ") ++errors;
                            c.done = --c.expect == 0;
                        } else {
                            ++errors;
                        }
                    }
                    c.in.erase(0, pos);
                }
            }
            fds.clear();
            for (auto& c : conns_) {
                // While sending, wake for answers only once many are waiting.
                int lowat = c.sent < c.out.size() ? 64 * 1024 : 1;
                if (lowat != c.lowat) {
                    ::setsockopt(c.fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
                    c.lowat = lowat;
                }
                short ev = POLLIN;
                if (c.sent < c.out.size()) ev |= POLLOUT;
                fds.push_back({c.fd, c.done ? short(0) : ev, 0});
            }
            if (std::all_of(conns_.begin(), conns_.end(), [](const Conn& c) { return c.done; }))
                break;
            if (::poll(fds.data(), fds.size(), 1000) <= 0) throw std::runtime_error("poll timeout");
        }
        return items.size() - errors;
    }

  private:
    struct Conn {
        int fd = -1;
        std::string out, in;
        std::size_t sent = 0, expect = 0;
        int lowat = 1;
        bool done = true;
    };

    Conn& conn_for(const std::string& key, std::size_t i) {
        memcached_return_t rc{};
        const memcached_instance_st* s =
            memcached_server_by_key(ring_, key.data(), key.size(), &rc);
        if (!s) throw std::runtime_error("no server for a key");
        auto [it, added] = by_instance_.try_emplace(s, conns_.size());
        if (added)
            for (int k = 0; k < per_server_; ++k)
                conns_.push_back(open(memcached_server_name(s), memcached_server_port(s)));
        return conns_[it->second + i % static_cast<std::size_t>(per_server_)];
    }

    static Conn open(const char* host, in_port_t port) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        if (::inet_pton(AF_INET, host, &a.sin_addr) != 1)
            throw std::runtime_error("the prototype takes IPv4 addresses only");
        Conn c;
        c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        int one = 1;
        ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (::connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS)
            throw std::runtime_error("connect failed");
        pollfd p{c.fd, POLLOUT, 0};
        if (::poll(&p, 1, 1000) != 1) throw std::runtime_error("connect timed out");
        return c;
    }

    memcached_st* ring_;
    bool quiet_;
    int per_server_;
    std::vector<Conn> conns_;
    std::map<const memcached_instance_st*, std::size_t> by_instance_;
};

struct Way {
    std::string name;
    std::function<std::size_t()> write;  // keys written Ok
    std::vector<double> rates;           // keys/s, one per round
    std::size_t failed = 0;
};

int run_cache_writes(const CacheWritesOptions& o) {
    Batch b = make_batch(o.keys, o.bytes);
    std::cout << "cache-writes " << o.memcached << "  keys=" << thousands(o.keys)
              << " bytes=" << thousands(o.bytes) << ", " << o.repeat
              << " rounds (every way once a round, in turn)\n";
    std::vector<Way> ways;
    auto add = [&](const std::string& name, std::function<std::size_t()> write) {
        if (name.find(o.only) != std::string::npos) ways.push_back({name, std::move(write), {}, 0});
    };
    revalidator::worker::McSink sink(o.memcached, 4);
    add("sink (4 conns)", [&] {
        auto st = sink.set_many(b.items);
        return static_cast<std::size_t>(std::count(st.begin(), st.end(), WriteStatus::Ok));
    });
    std::vector<std::unique_ptr<LibmemcachedLanes>> lanes;
    for (int n : o.connections) {
        auto* l = lanes.emplace_back(std::make_unique<LibmemcachedLanes>(o.memcached, n)).get();
        add("libmemcached " + std::to_string(n), [&b, l] { return l->set_many(b.items); });
    }
    std::vector<std::unique_ptr<MetaPrototype>> protos;
    for (bool quiet : {true, false}) {
        for (int per_server : {1, 2}) {
            auto* p =
                protos.emplace_back(std::make_unique<MetaPrototype>(o.memcached, quiet, per_server))
                    .get();
            add(std::string(quiet ? "meta q+mn" : "meta O") + (per_server > 1 ? " 2/server" : ""),
                [&b, p] { return p->set_many(b.items); });
        }
    }
    // Connections opened and the keys in place: the rounds measure overwrites, as batches do.
    for (auto& w : ways) w.write();
    for (unsigned r = 0; r < o.repeat; ++r) {
        for (auto& w : ways) {
            auto t0 = std::chrono::steady_clock::now();
            std::size_t ok = w.write();
            double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            w.rates.push_back(static_cast<double>(b.items.size()) / s);
            w.failed += b.items.size() - ok;
        }
    }
    nlohmann::json out = nlohmann::json::array();
    double baseline = 0;
    for (auto& w : ways) {
        std::sort(w.rates.begin(), w.rates.end());
        double median = w.rates[w.rates.size() / 2];
        if (baseline == 0) baseline = median;
        std::cout << "  " << w.name << std::string(w.name.size() < 20 ? 20 - w.name.size() : 1, ' ')
                  << thousands(static_cast<std::uint64_t>(median)) << " keys/s  ("
                  << thousands(static_cast<std::uint64_t>(w.rates.front())) << " – "
                  << thousands(static_cast<std::uint64_t>(w.rates.back())) << ")  "
                  << fixed(median / baseline, 2) << "x"
                  << (w.failed == 0 ? "" : "  (" + thousands(w.failed) + " writes failed)") << "\n";
        out.push_back({{"way", w.name},
                       {"keys_per_s", median},
                       {"ratio", median / baseline},
                       {"all", w.rates},
                       {"failed", w.failed}});
    }
    write_json_file(o.json, {{"mode", "cache-writes"},
                             {"keys", o.keys},
                             {"bytes", o.bytes},
                             {"servers", o.memcached},
                             {"ways", out}});
    bool failed = std::any_of(ways.begin(), ways.end(), [](const Way& w) { return w.failed > 0; });
    return failed ? 1 : 0;
}

}  // namespace

void add_cache_writes_command(CLI::App& app) {
    auto o = std::make_shared<CacheWritesOptions>();
    auto* cmd = app.add_subcommand(
        "cache-writes", "write a batch of keys to Memcached each way the worker could, keys/s");
    cmd->add_option("--memcached", o->memcached, "servers, host:port[,host:port...]")
        ->capture_default_str();
    cmd->add_option("--keys", o->keys, "keys per batch")->capture_default_str();
    cmd->add_option("--bytes", o->bytes, "bytes per value")->capture_default_str();
    cmd->add_option("--repeat", o->repeat, "batches per way; the median is reported")
        ->capture_default_str();
    cmd->add_option("--connections", o->connections, "libmemcached connections to try")
        ->capture_default_str();
    cmd->add_option("--only", o->only, "measure only the ways whose name contains this");
    cmd->add_option("--json", o->json, "also write the result as JSON to this file");
    cmd->callback([o] {
        if (o->keys == 0 || o->repeat == 0) throw CLI::ValidationError("--keys and --repeat > 0");
        if (int rc = run_cache_writes(*o)) throw CLI::RuntimeError(rc);
    });
}

}  // namespace loadgen
