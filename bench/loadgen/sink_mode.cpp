// sink: a ZeroMQ PULL socket that takes the ingress's events and throws them away. The ack
// benchmark points an ingress at it to measure the HTTP side alone, as the Node.js baseline is
// measured: in a deployment the worker runs on its own machine, while on this benchmark's two
// cores it would take CPU from the ingress and the load generator. Every frame is decoded, so a
// broken stream shows up as a count of bad frames, not as speed.
#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>

#include <zmq.hpp>

#include "format.hpp"
#include "modes.hpp"
#include "wire/wire.hpp"

namespace loadgen {

namespace {

volatile std::sig_atomic_t stop_requested = 0;

struct SinkOptions {
    std::string endpoint = "tcp://127.0.0.1:5556";
    double max_seconds = 3600;
};

int run_sink(const SinkOptions& o) {
    std::signal(SIGTERM, [](int) { stop_requested = 1; });
    std::signal(SIGINT, [](int) { stop_requested = 1; });
    zmq::context_t ctx(1);
    zmq::socket_t pull(ctx, zmq::socket_type::pull);
    pull.set(zmq::sockopt::rcvtimeo, 200);
    pull.bind(o.endpoint);
    std::cerr << "sink: bound " << o.endpoint << "\n";
    std::uint64_t events = 0, bad = 0;
    using std::chrono::steady_clock;
    const auto deadline = steady_clock::now() + std::chrono::duration_cast<steady_clock::duration>(
                                                    std::chrono::duration<double>(o.max_seconds));
    while (!stop_requested && steady_clock::now() < deadline) {
        zmq::message_t msg;
        if (!pull.recv(msg, zmq::recv_flags::none)) continue;
        auto e = revalidator::wire::decode(msg.to_string_view());
        ++(e ? events : bad);
    }
    std::cout << "  sink         " << thousands(events) << " events, " << thousands(bad)
              << " bad frames\n";
    return bad == 0 ? 0 : 1;
}

}  // namespace

void add_sink_command(CLI::App& app) {
    auto o = std::make_shared<SinkOptions>();
    auto* cmd = app.add_subcommand(
        "sink", "bind a ZeroMQ PULL endpoint and discard the events an ingress sends to it");
    cmd->add_option("--endpoint", o->endpoint, "endpoint to bind (the ingress's --worker-endpoint)")
        ->capture_default_str();
    cmd->add_option("--max-seconds", o->max_seconds, "stop after this long (or on SIGTERM)")
        ->capture_default_str();
    cmd->callback([o] {
        if (int rc = run_sink(*o)) throw CLI::RuntimeError(rc);
    });
}

}  // namespace loadgen
