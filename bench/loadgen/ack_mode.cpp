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
    LoadSpec load;  // url is set from --url
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
    LoadSpec spec = o.load;
    spec.url = *url;
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
    cmd->add_option("--ids", o->ids, "webhooks name ids 1..N")->capture_default_str();
    cmd->add_option("--body-chars", o->body_chars, "length of each record's body text")
        ->capture_default_str();
    cmd->add_option("--pool", o->pool, "distinct pre-built webhooks cycled through")
        ->capture_default_str();
    cmd->add_option("--seed", o->seed, "random seed for the ids")->capture_default_str();
    add_load_options(*cmd, o->load, true);
    cmd->add_option("--json", o->json, "also write the result as JSON to this file");
    cmd->callback([o] {
        int rc = run_ack(*o);
        if (rc) throw CLI::RuntimeError(rc);
    });
}

}  // namespace loadgen
