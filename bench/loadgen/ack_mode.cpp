// `loadgen ack`: how fast a webhook receiver acknowledges. Any receiver that answers a POST can be
// measured the same way (revalidator's ingress, nginx `return 202`, a Node.js server), which is
// what makes the ratios in bench/run meaningful. Bodies are realistic Supabase webhooks for ids
// spread over --ids rows, so a revalidator ingress passes them on and its worker does real work.
#include <sys/resource.h>

#include <algorithm>
#include <iostream>
#include <random>
#include <thread>

#include "feeds.hpp"
#include "format.hpp"
#include "modes.hpp"
#include "percentiles.hpp"
#include "tally.hpp"
#include "webhook.hpp"

namespace loadgen {

namespace {

struct AckOptions {
    std::string url;
    std::string secret;
    std::string server = "server";
    int connections = 32;
    int threads = 1;
    double duration_s = 10;
    double warmup_s = 1;
    std::uint64_t max_requests = 10'000'000;
    double rate = 0;
    int timeout_ms = 1000;
    std::uint64_t ids = 10'000;
    std::size_t body_chars = 480;
    std::size_t pool = 4096;
    std::uint64_t seed = 1;
    std::string json;
};

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return s(ru.ru_utime) + s(ru.ru_stime);
}

std::vector<std::string> webhook_pool(const AckOptions& o, const Url& url, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::uint64_t> id(1, std::max<std::uint64_t>(1, o.ids));
    std::vector<std::string> pool;
    pool.reserve(o.pool);
    for (std::size_t i = 0; i < std::max<std::size_t>(1, o.pool); ++i) {
        std::uint64_t row = id(rng);
        std::string body =
            webhook_body("UPDATE", "public", "articles", synthetic_row(row, 2, o.body_chars),
                         synthetic_row(row, 1, o.body_chars));
        pool.push_back(post_request(url, o.secret, body));
    }
    return pool;
}

struct ThreadResult {
    Tally tally;
    double seconds = 0;
    std::uint64_t sent = 0;
};

int run_ack(const AckOptions& o) {
    auto url = parse_url(o.url);
    if (!url) {
        std::cerr << "ack: --url must be http://host[:port]/path, got " << o.url << "\n";
        return 2;
    }
    int threads = std::clamp(o.threads, 1, std::max(1, o.connections));
    std::vector<ThreadResult> results(static_cast<std::size_t>(threads));
    std::vector<std::thread> workers;
    auto discard = [](const Outcome&) {};
    double cpu_before = cpu_seconds();
    auto wall_start = Clock::now();
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            int conns = o.connections / threads + (t < o.connections % threads ? 1 : 0);
            Engine engine({*url, conns, std::chrono::milliseconds(o.timeout_ms)});
            CyclingFeed feed(webhook_pool(o, *url, o.seed + static_cast<std::uint64_t>(t)),
                             o.rate / threads);
            auto now = Clock::now();
            feed.restart(now);
            engine.run(feed,
                       now + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(o.warmup_s)),
                       o.max_requests, discard);

            ThreadResult& r = results[static_cast<std::size_t>(t)];
            std::uint64_t failures_before = engine.connect_failures();
            auto start = Clock::now();
            auto until = start + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(o.duration_s));
            feed.restart(start);
            r.sent = engine.run(feed, until, o.max_requests / static_cast<std::uint64_t>(threads),
                                [&](const Outcome& out) { r.tally.add(out); });
            r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
            r.tally.add_errors("connect", engine.connect_failures() - failures_before);
            r.tally.add_errors("unsent", feed.behind(until));
        });
    }
    for (auto& w : workers) w.join();
    double wall = std::chrono::duration<double>(Clock::now() - wall_start).count();
    double cpu_cores = (cpu_seconds() - cpu_before) / wall;

    Tally all;
    double rps = 0, seconds = 0;
    std::uint64_t sent = 0;
    for (auto& r : results) {
        rps += r.seconds > 0 ? static_cast<double>(r.tally.ok) / r.seconds : 0;
        seconds = std::max(seconds, r.seconds);
        sent += r.sent;
        all.merge(std::move(r.tally));
    }
    Summary lat = summarize(std::move(all.latency_s));

    nlohmann::json j = {{"mode", "ack"},
                        {"server", o.server},
                        {"url", o.url},
                        {"connections", o.connections},
                        {"threads", threads},
                        {"rate", o.rate > 0 ? nlohmann::json(o.rate) : nlohmann::json(nullptr)},
                        {"duration_s", seconds},
                        {"timeout_ms", o.timeout_ms},
                        {"requests", sent},
                        {"ok", all.ok},
                        {"statuses", all.statuses_json()},
                        {"errors", all.errors},
                        {"error_total", all.error_total()},
                        {"rps", rps},
                        {"latency_ms", to_json(lat, 1e3)},
                        {"loadgen_cpu_cores", cpu_cores}};
    write_json_file(o.json, j);

    std::cout << "ack " << o.server << " " << o.url << "  connections=" << o.connections
              << " threads=" << threads << " "
              << (o.rate > 0
                      ? "open loop at " + thousands(static_cast<std::uint64_t>(o.rate)) + " req/s"
                      : std::string("closed loop"))
              << "\n"
              << "  requests     " << thousands(sent) << " sent, " << thousands(all.ok) << " ok in "
              << fixed(seconds, 1) << " s\n"
              << "  throughput   " << thousands(static_cast<std::uint64_t>(rps)) << " req/s\n"
              << "  latency ms   p50 " << fixed(lat.p50 * 1e3, 2) << "  p90 "
              << fixed(lat.p90 * 1e3, 2) << "  p99 " << fixed(lat.p99 * 1e3, 2) << "  p99.9 "
              << fixed(lat.p999 * 1e3, 2) << "  max " << fixed(lat.max * 1e3, 2) << "\n"
              << "  errors       " << all.errors_text() << "\n"
              << "  loadgen cpu  " << fixed(cpu_cores, 2) << " cores\n";
    return 0;
}

}  // namespace

void add_ack_command(CLI::App& app) {
    auto o = std::make_shared<AckOptions>();
    auto* cmd = app.add_subcommand(
        "ack", "POST webhooks at a fixed concurrency (or rate) and measure the acknowledgements");
    cmd->add_option("--url", o->url, "webhook endpoint, http://host:port/path")->required();
    cmd->add_option("--secret", o->secret, "sent as 'Authorization: Bearer <secret>'")
        ->envname("REVALIDATOR_SECRET");
    cmd->add_option("--server", o->server, "name of the server under test, for the report")
        ->capture_default_str();
    cmd->add_option("-c,--connections", o->connections, "keep-alive connections")
        ->capture_default_str();
    cmd->add_option("--threads", o->threads, "event-loop threads sharing the connections")
        ->capture_default_str();
    cmd->add_option("-d,--duration", o->duration_s, "seconds measured")->capture_default_str();
    cmd->add_option("--warmup", o->warmup_s, "seconds sent before measuring")
        ->capture_default_str();
    cmd->add_option("-n,--requests", o->max_requests, "most requests measured")
        ->capture_default_str();
    cmd->add_option("--rate", o->rate,
                    "requests per second on a fixed schedule (open loop); 0: closed loop")
        ->capture_default_str();
    cmd->add_option("--timeout-ms", o->timeout_ms, "a request unanswered this long is a timeout")
        ->capture_default_str();
    cmd->add_option("--ids", o->ids, "webhooks name ids 1..N")->capture_default_str();
    cmd->add_option("--body-chars", o->body_chars, "length of each record's body text")
        ->capture_default_str();
    cmd->add_option("--pool", o->pool, "distinct pre-built webhooks cycled through")
        ->capture_default_str();
    cmd->add_option("--seed", o->seed, "random seed for the ids")->capture_default_str();
    cmd->add_option("--json", o->json, "also write the result as JSON to this file");
    cmd->callback([o] {
        int rc = run_ack(*o);
        if (rc) throw CLI::RuntimeError(rc);
    });
}

}  // namespace loadgen
