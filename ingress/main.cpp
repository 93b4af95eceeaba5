// revalidator-ingress: receives database webhooks over HTTP, acknowledges them at once and hands
// a small event to the worker over ZeroMQ. Holds no database connection; run as many as needed.
#include <sysexits.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <iostream>
#include <thread>

#include "auth.hpp"
#include "cli.hpp"
#include "clock.hpp"
#include "curve_keys.hpp"
#include "event_queue.hpp"
#include "http_front.hpp"
#include "log.hpp"
#include "publisher.hpp"
#include "routes.hpp"
#include "shutdown.hpp"
#include "zmq_curve.hpp"

using namespace revalidator;

namespace {

std::string hostname() {
    char buf[256] = {};
    return gethostname(buf, sizeof(buf) - 1) == 0 && buf[0] ? std::string(buf) : "ingress";
}

// libzmq refuses a malformed endpoint only when the publisher connects, once the ingress is
// serving, and the process aborts; so each entry is checked before anything starts:
// tcp://host:port with a numeric port, or ipc://path. Empty when `ep` is usable.
std::string endpoint_error(const std::string& ep) {
    constexpr std::string_view tcp = "tcp://", ipc = "ipc://";
    const std::string_view s = ep;
    if (s.substr(0, ipc.size()) == ipc) {
        return s.size() > ipc.size() ? "" : "\"" + ep + "\" names no path (ipc://PATH)";
    }
    if (s.substr(0, tcp.size()) != tcp) {
        return "\"" + ep + "\" is neither tcp://HOST:PORT nor ipc://PATH";
    }
    const std::string_view rest = s.substr(tcp.size());
    const std::size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
        return "\"" + ep + "\" needs a host and a port (tcp://HOST:PORT)";
    }
    const std::string_view port = rest.substr(colon + 1);
    int n = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || n < 1 ||
        n > 65535) {
        return "\"" + ep + "\": the port must be a number from 1 to 65535";
    }
    return "";
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "revalidator-ingress: webhook receiver that acknowledges at once and queues to the worker"};
    std::string host = "127.0.0.1";
    int port = 8080;
    std::vector<std::string> endpoints{"tcp://127.0.0.1:5555"};
    std::string instance_id = hostname();
    cli::Secret secret;
    cli::Secret secret_previous;
    cli::Secret signing_secret;
    std::string curve_server_key;
    cli::Secret curve_secret;
    ingress::SigningConfig signing;
    bool insecure = false;
    ingress::TableConfig table;
    http::Tuning tuning;
    std::size_t queue_capacity = 100'000;
    int send_hwm = 1000;
    int drain_ms = 5000;
    std::string log_level = "info";
    std::string curve_public;  // derived from --curve-secret-key

    cli::option(app, "--host", host, "address to listen on");
    cli::option(app, "--port", port, "HTTP port to listen on (0 picks a free port)")
        ->check(CLI::Range(0, 65535));
    cli::option(
        app, "--worker-endpoint", endpoints,
        "ZeroMQ endpoint(s) of the worker's PULL socket, tcp://HOST:PORT or ipc://PATH; several "
        "for active + standby workers")
        ->delimiter(',')
        ->check(CLI::Validator([](std::string& ep) { return endpoint_error(ep); }, "ENDPOINT"));
    cli::option(app, "--curve-server-key", curve_server_key,
                "the worker's ZeroMQ CURVE public key (Z85, 40 characters); with "
                "--curve-secret-key, the link to the worker is encrypted and the worker "
                "authenticated (empty: plaintext)");
    cli::secret_option(app, "--curve-secret-key", curve_secret,
                       "this ingress's own CURVE secret key (Z85, 40 characters; "
                       "revalidator-worker --generate-curve-keypair makes one)");
    cli::option(app, "--instance-id", instance_id,
                "stable name of this instance; the worker tracks one event stream per instance");
    cli::secret_option(app, "--secret", secret,
                       "shared secret expected as 'Authorization: Bearer <secret>'");
    cli::secret_option(app, "--secret-previous", secret_previous,
                       "a second bearer secret accepted during rotation");
    cli::secret_option(app, "--signing-secret", signing_secret,
                       "Standard Webhooks signing secret(s), whsec_<base64>, separated by commas "
                       "(several during rotation)");
    cli::option(app, "--signature-tolerance-s", signing.options.tolerance_s,
                "accept a signed webhook whose timestamp is at most this far from our clock; "
                "its webhook-id is remembered this long against replays")
        ->check(CLI::Range(1, 86'400));
    cli::option(app, "--replay-cache-entries", signing.options.replay_capacity,
                "most webhook-ids remembered against replays (503 while full)")
        ->check(CLI::Range(1, 10'000'000));
    app.add_flag("--insecure-no-auth", insecure,
                 "accept webhooks without any authentication (local tests only)")
        ->envname(cli::env_name("--insecure-no-auth"));
    cli::option(app, "--schema", table.schema, "schema of the watched table");
    cli::option(app, "--table", table.table, "name of the watched table");
    cli::option(app, "--primary-key", table.primary_key, "primary key column of the watched table");
    cli::option(app, "--max-body-bytes", tuning.limits.max_body_bytes,
                "largest webhook body accepted, chunked or not (413 above)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30));
    cli::option(app, "--max-header-bytes", tuning.limits.max_header_bytes,
                "largest request line plus headers accepted (431 above)")
        ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 20));
    cli::option(app, "--http-threads", tuning.loops,
                "HTTP event-loop threads (0: one per core); connections are not threads")
        ->check(CLI::Range(0, 1024));
    cli::option(app, "--max-connections", tuning.max_connections,
                "HTTP connections open at once; a further one gets 503 and is closed")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
    cli::option(app, "--request-timeout-s", tuning.request_timeout_s,
                "a request must arrive in full this long after its first byte (408 after)")
        ->check(CLI::Range(1, 3600));
    cli::option(app, "--keep-alive-s", tuning.keep_alive_s,
                "close a keep-alive connection idle this long")
        ->check(CLI::Range(1, 3600));
    cli::option(app, "--queue-capacity", queue_capacity,
                "events held while the worker is slow or away (503 above)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}));
    cli::option(app, "--send-hwm", send_hwm, "ZeroMQ high-water mark toward each worker, in events")
        ->check(CLI::Range(1, 1'000'000));
    cli::option(app, "--drain-timeout-ms", drain_ms,
                "on SIGTERM, how long the drain may take: open connections are answered for at "
                "most half of it, queued events are sent within all of it")
        ->check(CLI::Range(0, 3'600'000));
    cli::option(app, "--log-level", log_level, "debug, info, warn or error")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
    try {
        app.parse(argc, argv);
        if (instance_id.empty()) {
            throw CLI::ValidationError("--instance-id",
                                       "must not be empty: the worker drops events of an unnamed "
                                       "stream");
        }
        cli::resolve_secret("--secret", secret);
        cli::resolve_secret("--secret-previous", secret_previous);
        cli::resolve_secret("--signing-secret", signing_secret);
        cli::resolve_secret("--curve-secret-key", curve_secret);
        if (!curve_server_key.empty() || !curve_secret.value.empty()) {
            if (curve_secret.value.empty()) {
                throw CLI::ValidationError(
                    "--curve-secret-key",
                    "--curve-server-key is set but --curve-secret-key (or --curve-secret-key-file) "
                    "is missing: CURVE needs both");
            }
            if (curve_server_key.empty()) {
                throw CLI::ValidationError(
                    "--curve-server-key",
                    "--curve-secret-key is set but --curve-server-key (the worker's public key) "
                    "is missing: CURVE needs both");
            }
            if (auto bad = curve::key_error(curve_server_key))
                throw CLI::ValidationError("--curve-server-key", *bad);
            if (auto bad = curve::key_error(curve_secret.value))
                throw CLI::ValidationError("--curve-secret-key", *bad);
            curve_public = curve::public_key(curve_secret.value);
            if (curve_public.empty()) {
                throw CLI::ValidationError("--curve-secret-key",
                                           "this libzmq was built without CURVE support");
            }
        }
        auto keys = ingress::parse_signing_secrets(signing_secret.value);
        if (!keys) throw CLI::ValidationError("--signing-secret", keys.error());
        signing.keys = std::move(*keys);
        if (secret.value.empty() && secret_previous.value.empty() && signing.keys.empty() &&
            !insecure) {
            throw CLI::ValidationError(
                "--secret",
                "no secret configured: set --secret (REVALIDATOR_SECRET) or --secret-file for "
                "bearer auth, --signing-secret or --signing-secret-file for Standard Webhooks "
                "signatures, or pass --insecure-no-auth for local tests");
        }
    } catch (const CLI::ParseError& e) {
        // --help is a ParseError that exits 0; every other is a usage error (CLI11 would exit
        // 100-127), one code for scripts and orchestrators (docs/configuration.md).
        return app.exit(e) == 0 ? 0 : EX_USAGE;
    }

    log::init("ingress", log_level);
    shutdown::install();
    metrics::Registry registry;
    const std::uint64_t epoch = unix_micros();
    ingress::EventQueue queue(instance_id, epoch, queue_capacity);
    ingress::PublisherConfig publisher_cfg;
    publisher_cfg.endpoints = endpoints;
    publisher_cfg.send_hwm = send_hwm;
    publisher_cfg.schema = table.schema;
    publisher_cfg.table = table.table;
    publisher_cfg.curve_server_key = curve_server_key;
    publisher_cfg.curve_public_key = curve_public;
    publisher_cfg.curve_secret_key = curve_secret.value;
    ingress::Publisher publisher(queue, std::move(publisher_cfg), registry);
    const bool bearer = !secret.value.empty() || !secret_previous.value.empty();
    const bool signatures = !signing.keys.empty();
    ingress::Authenticator auth({secret.value, secret_previous.value}, insecure,
                                std::move(signing));
    std::atomic<bool> draining{false};

    http::Server svr(tuning, registry);
    auto readiness = [&] {
        int peers = publisher.connected_peers();
        bool ready = peers > 0 && !draining;
        return http::Readiness{ready,
                               {{"worker_peers", peers},
                                {"draining", draining.load()},
                                {"queue_depth", queue.depth()}}};
    };
    ingress::add_routes(svr, {auth, table, queue, registry, readiness});

    int bound = svr.bind(host, port);
    if (bound < 0) {
        log::error("cannot listen", {{"host", host}, {"port", port}});
        return 1;
    }
    publisher.start();
    // The drain (docs/operations.md): webhooks are refused from the first moment (503 draining,
    // each taking a number that the END will show missing); the connections already open are
    // answered until they close or half the bound has passed; then the publisher, which sent all
    // along, sends what is left and END within the rest.
    using Clock = std::chrono::steady_clock;
    const auto drain_bound = std::chrono::milliseconds(drain_ms);
    std::atomic<Clock::time_point> drain_deadline{Clock::time_point::max()};
    shutdown::on_request([&] {
        const auto now = Clock::now();
        drain_deadline = now + drain_bound;
        draining = true;
        queue.close();
        svr.drain(now + drain_bound / 2);
    });
    log::info("ingress listening", {{"host", host},
                                    {"port", bound},
                                    {"stream", instance_id},
                                    {"epoch", epoch},
                                    {"workers", endpoints},
                                    {"curve", !curve_server_key.empty()},
                                    {"insecure", insecure},
                                    {"bearer_auth", bearer},
                                    {"signature_auth", signatures}});
    svr.serve();

    draining = true;
    queue.close();
    const auto deadline = drain_deadline.load();
    publisher.drain(deadline == Clock::time_point::max()
                        ? drain_bound
                        : std::max(std::chrono::milliseconds(0),
                                   std::chrono::duration_cast<std::chrono::milliseconds>(
                                       deadline - Clock::now())));
    log::info("ingress stopped", {{"stream", instance_id}, {"epoch", epoch}});
    return 0;
}
