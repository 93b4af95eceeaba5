// The publisher: the one thread that owns the ZeroMQ PUSH socket (sockets are not thread-safe).
// It moves events from the EventQueue to the worker(s) in queue order. PUSH connects to the
// worker's bound PULL endpoint(s) with ZMQ_IMMEDIATE, so nothing piles up toward a peer that is
// not connected; while no worker is there, events wait in the bounded EventQueue instead.
// A socket monitor counts connected peers (completed handshakes) for /readyz.
// With CURVE configured, PUSH is a CURVE client: the link is encrypted and the worker must prove
// it holds the secret key matching `curve_server_key` (docs/security.md).
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "config/table.hpp"
#include "event_queue.hpp"
#include "runtime/metrics.hpp"

namespace revalidator::ingress {

struct PublisherConfig {
    std::vector<std::string> endpoints;
    int send_hwm{};            // frames buffered per connected worker inside ZeroMQ
    Table table;               // named in the END and HEARTBEAT markers
    std::string labels{};      // of its metric series: the collection's (collection="articles")
    std::string collection{};  // its name, in every line the publisher logs
    std::chrono::milliseconds heartbeat{1000};  // idle time after which a HEARTBEAT is sent
    // CURVE (all Z85, validated by the caller). Empty server key: plaintext (the default).
    std::string curve_server_key;  // the worker's public key
    std::string curve_public_key;  // ours, from curve::public_key (zmq_curve.hpp)
    std::string curve_secret_key;  // ours
};

class Publisher {
  public:
    Publisher(EventQueue& queue, PublisherConfig cfg, metrics::Registry& registry);
    ~Publisher();

    void start();
    // Call once nothing pushes any more (the queue closed and the HTTP side stopped), so that no
    // refusal takes a number after END. Sends what is left and the END marker, giving up after
    // `linger`; what is not sent by then is dropped, counted and logged, and the END (if it still
    // goes out) shows the worker the gap. Clean only when every queued event and END were sent.
    void drain(std::chrono::milliseconds linger);

    int connected_peers() const { return peers_.load(); }

  private:
    void run();

    EventQueue& queue_;
    PublisherConfig cfg_;
    std::thread thread_;
    std::atomic<int> peers_{0};
    std::atomic<bool> draining_{false};
    std::atomic<std::int64_t> deadline_ns_{0};
    metrics::Counter& sent_;
    metrics::Counter& heartbeats_;
    metrics::Counter& lost_;
};

}  // namespace revalidator::ingress
