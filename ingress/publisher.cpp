#include "publisher.hpp"

#include <cstring>
#include <optional>
#include <set>
#include <thread>

#include <zmq.hpp>

#include "runtime/log.hpp"
#include "wire/wire.hpp"

namespace revalidator::ingress {

namespace {

std::int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

Publisher::Publisher(EventQueue& queue, PublisherConfig cfg, metrics::Registry& registry)
    : queue_(queue),
      cfg_(std::move(cfg)),
      sent_(registry.counter("revalidator_ingress_events_sent_total",
                             "Events handed to ZeroMQ, heartbeats apart", cfg_.labels)),
      heartbeats_(registry.counter("revalidator_ingress_heartbeats_sent_total",
                                   "HEARTBEAT markers handed to ZeroMQ", cfg_.labels)),
      lost_(registry.counter("revalidator_ingress_events_lost_total",
                             "Events still queued when the drain deadline passed", cfg_.labels)) {
    registry.gauge_fn(
        "revalidator_ingress_worker_peers", "Workers the PUSH socket is connected to",
        [this] { return static_cast<double>(peers_.load()); }, cfg_.labels);
    registry.gauge_fn(
        "revalidator_ingress_queue_depth", "Events waiting for the publisher",
        [&q = queue_] { return static_cast<double>(q.depth()); }, cfg_.labels);
    registry.gauge_fn(
        "revalidator_ingress_queue_capacity", "Events the queue holds at most (--queue-capacity)",
        [&q = queue_] { return static_cast<double>(q.capacity()); }, cfg_.labels);
}

Publisher::~Publisher() {
    if (thread_.joinable()) {
        queue_.close();
        drain(std::chrono::milliseconds(0));
    }
}

void Publisher::start() {
    thread_ = std::thread([this] { run(); });
}

void Publisher::drain(std::chrono::milliseconds linger) {
    deadline_ns_ =
        steady_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(linger).count();
    draining_ = true;
    if (thread_.joinable()) thread_.join();
}

void Publisher::run() {
    const log::Scope scope("collection", cfg_.collection);
    const std::string table = cfg_.table.qualified();
    zmq::context_t ctx(1);
    zmq::socket_t push(ctx, zmq::socket_type::push);
    push.set(zmq::sockopt::immediate, 1);
    push.set(zmq::sockopt::sndhwm, cfg_.send_hwm);
    push.set(zmq::sockopt::linger, 0);
    push.set(zmq::sockopt::reconnect_ivl, 100);
    push.set(zmq::sockopt::reconnect_ivl_max, 1000);
    push.set(zmq::sockopt::tcp_keepalive, 1);
    if (!cfg_.curve_server_key.empty()) {
        push.set(zmq::sockopt::curve_serverkey, cfg_.curve_server_key);
        push.set(zmq::sockopt::curve_publickey, cfg_.curve_public_key);
        push.set(zmq::sockopt::curve_secretkey, cfg_.curve_secret_key);
    }

    const std::string monitor_addr = "inproc://publisher-monitor";
    // A peer counts once its handshake succeeded: a TCP connection alone proves nothing when a
    // CURVE handshake then fails (wrong server key), and ZMQ_IMMEDIATE sends nothing to it.
    constexpr int kHandshakeFailed = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    if (zmq_socket_monitor(
            push.handle(), monitor_addr.c_str(),
            ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED | kHandshakeFailed) != 0) {
        throw zmq::error_t();
    }
    zmq::socket_t monitor(ctx, zmq::socket_type::pair);
    monitor.connect(monitor_addr);
    for (const auto& ep : cfg_.endpoints) push.connect(ep);

    std::set<std::string> connected;
    std::set<std::string> failing;  // handshake failures are logged once until a success
    auto read_monitor = [&] {
        zmq::message_t head, addr;
        while (monitor.recv(head, zmq::recv_flags::dontwait)) {
            (void)monitor.recv(addr);
            std::uint16_t event = 0;
            std::memcpy(&event, head.data(), sizeof(event));
            const std::string endpoint = addr.to_string();
            if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
                connected.insert(endpoint);
                failing.erase(endpoint);
                log::info("worker connected", {{"endpoint", endpoint}, {"table", table}});
            } else if (event == ZMQ_EVENT_DISCONNECTED) {
                if (connected.erase(endpoint) > 0)
                    log::info("worker disconnected", {{"endpoint", endpoint}, {"table", table}});
            } else if ((event & kHandshakeFailed) != 0 && failing.insert(endpoint).second) {
                log::warn("handshake with worker failed; retrying",
                          {{"endpoint", endpoint},
                           {"table", table},
                           {"curve", !cfg_.curve_server_key.empty()},
                           {"hint", cfg_.curve_server_key.empty()
                                        ? "the worker may require CURVE: set --curve-server-key "
                                          "and --curve-secret-key"
                                        : "check --curve-server-key is the worker's public key "
                                          "and that the worker runs with CURVE"}});
            }
            peers_ = static_cast<int>(connected.size());
        }
    };
    auto past_deadline = [&] { return draining_ && steady_ns() >= deadline_ns_.load(); };

    // Waits (without busy-looping) until a connected worker may have room, or 50 ms.
    auto wait_writable = [&] {
        zmq::pollitem_t items[] = {{push.handle(), 0, ZMQ_POLLOUT, 0},
                                   {monitor.handle(), 0, ZMQ_POLLIN, 0}};
        zmq::poll(items, 2, std::chrono::milliseconds(50));
        read_monitor();
    };
    // Sends one frame, waiting for a connected worker with room.
    auto send = [&](const std::string& frame) {
        while (true) {
            if (push.send(zmq::buffer(frame), zmq::send_flags::dontwait)) return true;
            if (past_deadline()) return false;
            wait_writable();
        }
    };

    // Events go out in rounds: everything waiting is taken at once, and after a small round the
    // publisher lets events gather for a moment. Under load that turns one thread wake-up (and
    // one ZeroMQ I/O wake-up) per event into one per round, for at most kGather more delay on
    // the way to the worker; the ack does not wait for it. What ZeroMQ does not take at once (no
    // worker, or a full one) goes back to the queue, so that --queue-capacity bounds everything
    // held here and the HTTP side answers 503 beyond it.
    constexpr std::size_t kRound = 1024;
    constexpr auto kGather = std::chrono::microseconds(500);
    auto last_sent = std::chrono::steady_clock::now();
    while (true) {
        read_monitor();
        std::vector<Event> events = queue_.take(kRound, std::chrono::milliseconds(50));
        bool beat = false;
        if (events.empty()) {
            if (draining_) break;
            if (std::chrono::steady_clock::now() - last_sent < cfg_.heartbeat || peers_ == 0)
                continue;
            // None when an event was queued since the take: that event goes first.
            auto heartbeat = queue_.marker(Op::Heartbeat, cfg_.table.schema, cfg_.table.name);
            if (!heartbeat) continue;
            events.push_back(std::move(*heartbeat));
            beat = true;
        }
        std::size_t sent = 0;
        while (sent < events.size() &&
               push.send(zmq::buffer(wire::encode(events[sent])), zmq::send_flags::dontwait)) {
            ++sent;
        }
        (beat ? heartbeats_ : sent_).inc(sent);
        if (sent > 0) last_sent = std::chrono::steady_clock::now();
        if (sent < events.size()) {
            for (std::size_t j = events.size(); j-- > sent;) queue_.unpop(std::move(events[j]));
            if (past_deadline()) break;
            wait_writable();
            continue;
        }
        if (!draining_ && events.size() < kRound) std::this_thread::sleep_for(kGather);
    }

    if (draining_) {
        // What the deadline left unsent is dropped; the END still goes out if it can, and its
        // number, after theirs, shows the worker the gap (no END: it sees the restart).
        const std::size_t unsent = queue_.discard();
        std::optional<Event> end = queue_.marker(Op::End, cfg_.table.schema, cfg_.table.name);
        const bool end_sent = end && send(wire::encode(*end));
        const bool clean = unsent == 0 && end_sent;
        if (unsent > 0) {
            lost_.inc(unsent);
            log::error("drain deadline passed with events unsent; the worker will resync",
                       {{"stream", queue_.stream()},
                        {"table", table},
                        {"epoch", queue_.epoch()},
                        {"unsent", unsent}});
        }
        // Give ZeroMQ the rest of the linger bound to put the last frames on the wire.
        auto rest = std::max<std::int64_t>(0, deadline_ns_.load() - steady_ns()) / 1'000'000;
        push.set(zmq::sockopt::linger, static_cast<int>(rest));
        log::info("publisher drained", {{"stream", queue_.stream()},
                                        {"table", table},
                                        {"epoch", queue_.epoch()},
                                        {"last_seq", queue_.last_seq()},
                                        {"unsent", unsent},
                                        {"end_sent", end_sent},
                                        {"clean", clean}});
    }
    zmq_socket_monitor(push.handle(), nullptr, 0);
    monitor.close();
    push.close();
}

}  // namespace revalidator::ingress
