#include "load_run.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <thread>

#include <iostream>

#include "feeds.hpp"
#include "format.hpp"
#include "http_load.hpp"
#include "percentiles.hpp"

namespace loadgen {

namespace {

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return s(ru.ru_utime) + s(ru.ru_stime);
}

struct ThreadResult {
    Tally tally;
    double seconds = 0;
    std::uint64_t sent = 0;
};

Clock::duration seconds(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

void add_load_options(CLI::App& cmd, LoadSpec& spec, bool schedule) {
    cmd.add_option("-c,--connections", spec.connections, "keep-alive connections")
        ->capture_default_str();
    cmd.add_option("--threads", spec.threads, "event-loop threads sharing the connections")
        ->capture_default_str();
    cmd.add_option("-d,--duration", spec.duration_s, "seconds measured")->capture_default_str();
    cmd.add_option("--warmup", spec.warmup_s, "seconds sent before measuring")
        ->capture_default_str();
    cmd.add_option("--timeout-ms", spec.timeout_ms, "a request unanswered this long is a timeout")
        ->capture_default_str();
    if (!schedule) return;
    cmd.add_option("-n,--requests", spec.max_requests, "most requests measured")
        ->capture_default_str();
    cmd.add_option("--rate", spec.rate,
                   "requests per second on a fixed schedule (open loop); 0: closed loop")
        ->capture_default_str();
}

LoadResult run_load(const LoadSpec& o, const std::function<std::vector<std::string>(int)>& pool,
                    bool not_modified_ok) {
    const int threads = std::clamp(o.threads, 1, std::max(1, o.connections));
    std::vector<ThreadResult> results(static_cast<std::size_t>(threads));
    for (auto& r : results) r.tally.not_modified_ok = not_modified_ok;
    std::vector<std::thread> workers;
    auto discard = [](const Outcome&) {};
    const double cpu_before = cpu_seconds();
    const auto wall_start = Clock::now();
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            int conns = o.connections / threads + (t < o.connections % threads ? 1 : 0);
            Engine engine({o.url, conns, std::chrono::milliseconds(o.timeout_ms)});
            CyclingFeed feed(pool(t), o.rate / threads);
            auto now = Clock::now();
            feed.restart(now);
            engine.run(feed, now + seconds(o.warmup_s), o.max_requests, discard);

            ThreadResult& r = results[static_cast<std::size_t>(t)];
            std::uint64_t failures_before = engine.connect_failures();
            auto start = Clock::now();
            auto until = start + seconds(o.duration_s);
            feed.restart(start);
            r.sent = engine.run(feed, until, o.max_requests / static_cast<std::uint64_t>(threads),
                                [&](const Outcome& out) { r.tally.add(out); });
            r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
            r.tally.add_errors("connect", engine.connect_failures() - failures_before);
            r.tally.add_errors("unsent", feed.behind(until));
        });
    }
    for (auto& w : workers) w.join();
    const double wall = std::chrono::duration<double>(Clock::now() - wall_start).count();

    LoadResult out;
    out.threads = threads;
    out.all.not_modified_ok = not_modified_ok;
    out.loadgen_cpu_cores = (cpu_seconds() - cpu_before) / wall;
    for (auto& r : results) {
        out.rps += r.seconds > 0 ? static_cast<double>(r.tally.ok) / r.seconds : 0;
        out.seconds = std::max(out.seconds, r.seconds);
        out.sent += r.sent;
        out.all.merge(std::move(r.tally));
    }
    return out;
}

void report_load(const std::string& mode, const std::string& server, const std::string& url,
                 const LoadSpec& o, LoadResult& r, const std::string& json_path,
                 const nlohmann::json& extra) {
    Summary lat = summarize(std::move(r.all.latency_s));
    nlohmann::json j = {{"mode", mode},
                        {"server", server},
                        {"url", url},
                        {"connections", o.connections},
                        {"threads", r.threads},
                        {"rate", o.rate > 0 ? nlohmann::json(o.rate) : nlohmann::json(nullptr)},
                        {"duration_s", r.seconds},
                        {"timeout_ms", o.timeout_ms},
                        {"requests", r.sent},
                        {"ok", r.all.ok},
                        {"statuses", r.all.statuses_json()},
                        {"errors", r.all.errors},
                        {"error_total", r.all.error_total()},
                        {"rps", r.rps},
                        {"latency_ms", to_json(lat, 1e3)},
                        {"loadgen_cpu_cores", r.loadgen_cpu_cores}};
    j.update(extra);
    write_json_file(json_path, j);

    std::cout << mode << " " << server << " " << url << "  connections=" << o.connections
              << " threads=" << r.threads << " "
              << (o.rate > 0
                      ? "open loop at " + thousands(static_cast<std::uint64_t>(o.rate)) + " req/s"
                      : std::string("closed loop"))
              << "\n"
              << "  requests     " << thousands(r.sent) << " sent, " << thousands(r.all.ok)
              << " ok in " << fixed(r.seconds, 1) << " s\n"
              << "  throughput   " << thousands(static_cast<std::uint64_t>(r.rps)) << " req/s\n"
              << "  latency ms   p50 " << fixed(lat.p50 * 1e3, 2) << "  p90 "
              << fixed(lat.p90 * 1e3, 2) << "  p99 " << fixed(lat.p99 * 1e3, 2) << "  p99.9 "
              << fixed(lat.p999 * 1e3, 2) << "  max " << fixed(lat.max * 1e3, 2) << "\n"
              << "  errors       " << r.all.errors_text() << "\n"
              << "  loadgen cpu  " << fixed(r.loadgen_cpu_cores, 2) << " cores\n";
}

}  // namespace loadgen
