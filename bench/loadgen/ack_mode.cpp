// `loadgen ack`: how fast a webhook receiver acknowledges. Any receiver that answers a POST can be
// measured the same way (revalidator's ingress, nginx `return 202`, a Node.js server), which is
// what makes the ratios in bench/run meaningful. Bodies are realistic Supabase webhooks for ids
// spread over --ids rows, so a revalidator ingress passes them on and its worker does real work.
#include <algorithm>
#include <iostream>
#include <random>

#include "load_run.hpp"
#include "modes.hpp"
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

int run_ack(const AckOptions& o) {
    auto url = parse_url(o.url);
    if (!url) {
        std::cerr << "ack: --url must be http://host[:port]/path, got " << o.url << "\n";
        return 2;
    }
    const LoadSpec spec{.url = *url,
                        .connections = o.connections,
                        .threads = o.threads,
                        .duration_s = o.duration_s,
                        .warmup_s = o.warmup_s,
                        .max_requests = o.max_requests,
                        .rate = o.rate,
                        .timeout_ms = o.timeout_ms};
    auto r = run_load(
        spec, [&](int t) { return webhook_pool(o, *url, o.seed + static_cast<std::uint64_t>(t)); });
    report_load("ack", o.server, o.url, spec, r, o.json, nlohmann::json::object());
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
