// `loadgen read`: how fast a server answers reads of one list or of rows, as a site's readers (or
// a CDN revalidating) would send them: revalidator's read routes, or nginx serving the same bytes
// from files, which is the practical limit bench/run compares against. Before the run, one probe
// per distinct request reads what the answer weighs on the wire (gzip included, as sent), so the
// report can give bytes per second; with --revalidate the probe's ETag goes out as If-None-Match
// and 304 counts as an answer. With --rss-pid, the resident memory of that process (the server
// under test) is sampled through the run and its peak reported.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

#include <httplib.h>

#include "load_run.hpp"
#include "modes.hpp"

namespace loadgen {

namespace {

struct ReadOptions {
    std::string url;  // the list, or the rows' prefix with --ids
    std::string server = "server";
    std::string variant = "read";
    std::uint64_t ids = 0;
    bool gzip = false;
    bool revalidate = false;
    std::string bearer;
    LoadSpec load;  // url is set from --url
    std::size_t pool = 1024;
    std::uint64_t seed = 1;
    int rss_pid = 0;
    std::string json;
};

// VmRSS of `pid` in kB, 0 when it cannot be read.
std::uint64_t rss_kb(int pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
    }
    return 0;
}

// The highest VmRSS of a process while it lives, sampled every 20 ms on a thread of its own.
class RssPeak {
  public:
    explicit RssPeak(int pid) {
        if (pid <= 0) return;
        sampler_ = std::thread([this, pid] {
            while (!stop_) {
                peak_ = std::max<std::uint64_t>(peak_, rss_kb(pid));
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        });
    }
    ~RssPeak() { stop(); }
    std::uint64_t stop() {
        stop_ = true;
        if (sampler_.joinable()) sampler_.join();
        return peak_;
    }

  private:
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> peak_{0};
    std::thread sampler_;
};

struct Probe {
    std::string request;  // what the engine sends
    std::size_t bytes = 0;
};

// GETs `path` once with the read's headers and builds the request the run repeats.
std::optional<Probe> probe(const ReadOptions& o, const Url& url, const std::string& path,
                           std::string& why) {
    httplib::Client client(url.host, url.port);
    client.set_decompress(false);
    client.set_read_timeout(10, 0);
    httplib::Headers headers;
    if (o.gzip) headers.emplace("Accept-Encoding", "gzip");
    if (!o.bearer.empty()) headers.emplace("Authorization", "Bearer " + o.bearer);
    auto res = client.Get(path.c_str(), headers);
    if (!res || res->status != 200) {
        why = path + ": " +
              (res ? "HTTP " + std::to_string(res->status) : httplib::to_string(res.error()));
        return std::nullopt;
    }
    Probe p;
    p.request = "GET " + path + " HTTP/1.1\r\nHost: " + url.host_header +
                "\r\nUser-Agent: revalidator-loadgen\r\n";
    for (const auto& [k, v] : headers) p.request += k + ": " + v + "\r\n";
    if (o.revalidate) {
        p.request += "If-None-Match: " + res->get_header_value("ETag") + "\r\n";
    } else {
        p.bytes = res->body.size();
    }
    p.request += "\r\n";
    return p;
}

int run_read(const ReadOptions& o) {
    auto url = parse_url(o.url);
    if (!url) {
        std::cerr << "read: --url must be http://host[:port]/path, got " << o.url << "\n";
        return 2;
    }
    std::vector<std::string> requests;
    double bytes = 0;
    std::mt19937_64 rng(o.seed);
    std::uniform_int_distribution<std::uint64_t> id(1, std::max<std::uint64_t>(1, o.ids));
    const std::size_t n = o.ids == 0 ? 1 : std::max<std::size_t>(1, o.pool);
    for (std::size_t i = 0; i < n; ++i) {
        std::string path = o.ids == 0 ? url->path : url->path + "/" + std::to_string(id(rng));
        std::string why;
        auto p = probe(o, *url, path, why);
        if (!p) {
            std::cerr << "read: the probe failed, " << why << "\n";
            return 1;
        }
        requests.push_back(std::move(p->request));
        bytes += static_cast<double>(p->bytes);
    }
    const double body_bytes = bytes / static_cast<double>(n);
    LoadSpec spec = o.load;
    spec.url = *url;
    RssPeak rss(o.rss_pid);
    auto r = run_load(
        spec,
        [&](int t) {
            auto mine = requests;
            std::rotate(mine.begin(),
                        mine.begin() + (static_cast<std::size_t>(t) * 7) % mine.size(), mine.end());
            return mine;
        },
        o.revalidate);
    const std::uint64_t rss_peak_kb = rss.stop();
    const double mb_per_s = r.rps * body_bytes / 1e6;
    nlohmann::json extra = {{"variant", o.variant},     {"ids", o.ids},
                            {"gzip", o.gzip},           {"revalidate", o.revalidate},
                            {"body_bytes", body_bytes}, {"mb_per_s", mb_per_s}};
    if (o.rss_pid > 0) extra["rss_peak_kb"] = rss_peak_kb;
    report_load("read", o.server, o.url, spec, r, o.json, extra);
    std::cout << "  body         " << static_cast<std::uint64_t>(body_bytes)
              << " bytes per answer, " << mb_per_s << " MB/s\n";
    if (o.rss_pid > 0) std::cout << "  server RSS   peak " << rss_peak_kb / 1024 << " MB\n";
    return 0;
}

}  // namespace

void add_read_command(CLI::App& app) {
    auto o = std::make_shared<ReadOptions>();
    auto* cmd = app.add_subcommand(
        "read", "GET a list or rows at a fixed concurrency and measure the answers");
    cmd->add_option("--url", o->url,
                    "the list (http://host:port/articles), or with --ids the rows' prefix")
        ->required();
    cmd->add_option("--ids", o->ids, "GET {url}/{id} for ids spread over 1..N; 0: GET {url}")
        ->capture_default_str();
    cmd->add_flag("--gzip", o->gzip, "send Accept-Encoding: gzip");
    cmd->add_flag("--revalidate", o->revalidate,
                  "send If-None-Match with the tag the probe got; 304 counts as an answer");
    cmd->add_option("--bearer", o->bearer, "sent as 'Authorization: Bearer <secret>'")
        ->envname("REVALIDATOR_READ_SECRET");
    cmd->add_option("--server", o->server, "name of the server under test, for the report")
        ->capture_default_str();
    cmd->add_option("--variant", o->variant, "name of what is read, for the report")
        ->capture_default_str();
    cmd->add_option("--pool", o->pool, "distinct rows probed and cycled through (with --ids)")
        ->capture_default_str();
    cmd->add_option("--seed", o->seed, "random seed for the ids")->capture_default_str();
    cmd->add_option("--rss-pid", o->rss_pid,
                    "a process (the server under test) whose peak resident memory during the run "
                    "is reported");
    add_load_options(*cmd, o->load, false);
    cmd->add_option("--json", o->json, "also write the result as JSON to this file");
    cmd->callback([o] {
        int rc = run_read(*o);
        if (rc) throw CLI::RuntimeError(rc);
    });
}

}  // namespace loadgen
