// `loadgen report`: turns the result files of one bench/run into what people read. It prints ONE
// table (each figure beside its baselines, the ratios, the target it must meet and whether
// it was met), writes every raw result plus that table to results.json, and writes the data files
// that bench/plot.gp draws. Runs are recognised by their fields (mode, server, connections,
// algorithm, rows, kind), so any subset of the suite can be reported.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "format.hpp"
#include "modes.hpp"

namespace loadgen {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct ReportOptions {
    std::string runs_dir;
    std::string json;
    std::string plot_dir;
};

struct Row {
    std::string figure, value, nginx, node, other, ratio, target, verdict;
};

std::string num(const json& v, int decimals = 0) {
    if (!v.is_number()) return "-";
    double d = v.get<double>();
    if (decimals == 0 && d >= 0) return thousands(static_cast<std::uint64_t>(d + 0.5));
    return fixed(d, decimals);
}

// The value at a JSON pointer such as "/latency_ms/p99", or null.
json at(const json& j, const std::string& pointer) {
    json::json_pointer p(pointer);
    return j.contains(p) ? j.at(p) : json();
}

double get(const json& j, const std::string& pointer) {
    json v = at(j, pointer);
    return v.is_number() ? v.get<double>() : NAN;
}

std::string ratio(double a, double b, const std::string& name) {
    if (std::isnan(a) || std::isnan(b) || b == 0) return "";
    return fixed(a / b, a / b >= 10 ? 0 : 2) + "x " + name;
}

std::string verdict(bool met) {
    return met ? "met" : "MISSED";
}

std::string join(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) {
        if (p.empty()) continue;
        out += (out.empty() ? "" : ", ") + p;
    }
    return out;
}

struct Runs {
    std::map<std::string, std::map<int, json>> ack;             // closed loop, rounds merged
    std::vector<json> open_loop;                                // ack runs at a fixed rate
    std::map<std::string, std::map<int, json>> wrk;             // server -> connections -> run
    std::map<std::string, std::map<std::size_t, json>> worker;  // algorithm -> rows -> run
    std::vector<json> e2e;
    std::map<std::string, json> rss;  // process -> run
    // variant -> server -> connections -> run, rounds merged
    std::map<std::string, std::map<std::string, std::map<int, json>>> read;
    std::vector<json> all;
};

double median(std::vector<double> v) {
    if (v.empty()) return NAN;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Rounds of one ack measurement (same server and concurrency) as one: the median of each figure,
// errors added up, and the spread of req/s.
json merge_rounds(const std::vector<json>& rounds) {
    auto med = [&](const std::string& pointer) {
        std::vector<double> v;
        for (const auto& r : rounds) {
            double x = get(r, pointer);
            if (!std::isnan(x)) v.push_back(x);
        }
        return median(v);
    };
    json m = rounds.front();
    m["rounds"] = rounds.size();
    m["rps"] = med("/rps");
    for (const char* p : {"p50", "p90", "p99", "p99.9", "max", "mean"})
        m["latency_ms"][p] = med(std::string("/latency_ms/") + p);
    json errors = json::object();
    std::uint64_t total = 0;
    double lo = INFINITY, hi = -INFINITY;
    for (const auto& r : rounds) {
        json kinds = at(r, "/errors");
        for (const auto& [k, n] : kinds.items()) {
            errors[k] = errors.value(k, std::uint64_t{0}) + n.get<std::uint64_t>();
            total += n.get<std::uint64_t>();
        }
        lo = std::min(lo, get(r, "/rps"));
        hi = std::max(hi, get(r, "/rps"));
    }
    m["errors"] = errors;
    m["error_total"] = total;
    m["rps_min"] = lo;
    m["rps_max"] = hi;
    return m;
}

Runs load(const std::string& dir) {
    Runs r;
    std::map<std::string, std::map<int, std::vector<json>>> rounds;
    std::map<std::string, std::map<std::string, std::map<int, std::vector<json>>>> read_rounds;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() == ".json") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        std::ifstream in(f);
        json j = json::parse(in, nullptr, false);
        if (!j.is_object()) {
            std::cerr << "report: skipping " << f << " (not a JSON object)\n";
            continue;
        }
        j["file"] = f.filename().string();
        std::string mode = j.value("mode", "");
        bool fixed_rate = j.contains("rate") && j["rate"].is_number();
        if (mode == "ack" && fixed_rate) r.open_loop.push_back(j);
        if (mode == "ack" && !fixed_rate)
            rounds[j.value("server", "?")][j.value("connections", 0)].push_back(j);
        if (mode == "wrk") r.wrk[j.value("server", "?")][j.value("connections", 0)] = j;
        if (mode == "worker") r.worker[j.value("algorithm", "?")][j.value("rows", 0ul)] = j;
        if (mode == "e2e") r.e2e.push_back(j);
        if (mode == "rss") r.rss[j.value("process", "?")] = j;
        if (mode == "read") {
            read_rounds[j.value("variant", "?")][j.value("server", "?")][j.value("connections", 0)]
                .push_back(j);
        }
        r.all.push_back(j);
    }
    for (const auto& [server, by_c] : rounds) {
        for (const auto& [c, runs] : by_c) r.ack[server][c] = merge_rounds(runs);
    }
    for (const auto& [variant, by_server] : read_rounds) {
        for (const auto& [server, by_c] : by_server) {
            for (const auto& [c, runs] : by_c) {
                json m = merge_rounds(runs);
                m["mb_per_s"] = get(m, "/rps") * get(m, "/body_bytes") / 1e6;
                r.read[variant][server][c] = m;
            }
        }
    }
    return r;
}

std::string error_text(const json& j) {
    if (!j.is_object()) return "-";
    std::string kinds;
    json errors = at(j, "/errors");
    for (const auto& [k, n] : errors.items())
        kinds += (kinds.empty() ? " (" : ", ") + k + " " + num(n);
    return num(at(j, "/error_total")) + (kinds.empty() ? "" : kinds + ")");
}

void ack_rows(const Runs& r, std::vector<Row>& rows) {
    auto rev = r.ack.find("revalidator");
    if (rev == r.ack.end()) return;
    auto base = [&](const std::string& server, int c) -> json {
        auto s = r.ack.find(server);
        if (s == r.ack.end()) return json();
        auto it = s->second.find(c);
        return it == s->second.end() ? json() : it->second;
    };
    for (const auto& [c, run] : rev->second) {
        json ng = base("nginx", c), nd = base("node", c);
        std::string where = "ack c=" + std::to_string(c) + " ";
        double rps = get(run, "/rps"), ng_rps = get(ng, "/rps"), nd_rps = get(nd, "/rps");
        rows.push_back({where + "req/s", num(at(run, "/rps")), num(at(ng, "/rps")),
                        num(at(nd, "/rps")), "",
                        join({ratio(rps, ng_rps, "nginx"), ratio(rps, nd_rps, "node")}), ">= node",
                        std::isnan(nd_rps) ? "" : verdict(rps >= nd_rps)});
        auto spread = [](const json& j) {
            if (!j.is_object()) return std::string("-");
            return num(at(j, "/rps_min")) + "-" + num(at(j, "/rps_max"));
        };
        rows.push_back({where + "req/s range of " + num(at(run, "/rounds")) + " rounds",
                        spread(run), spread(ng), spread(nd), "", "", "", ""});
        for (const auto& [key, label] : std::vector<std::pair<std::string, std::string>>{
                 {"p50", "p50 ms"}, {"p99", "p99 ms"}, {"p99.9", "p99.9 ms"}, {"max", "max ms"}}) {
            std::string p = "/latency_ms/" + key;
            double v = get(run, p);
            bool targeted = key == "p99" && c >= 128;
            rows.push_back({where + label, num(at(run, p), 2), num(at(ng, p), 2), num(at(nd, p), 2),
                            "", join({ratio(v, get(nd, p), "node")}), targeted ? "<= 10 ms" : "",
                            targeted ? verdict(v <= 10) : ""});
        }
        auto errors = error_text;
        rows.push_back({where + "errors", errors(run), errors(ng), errors(nd), "", "", "0",
                        verdict(run.value("error_total", 1) == 0)});
        // The same load against the ingress that feeds the worker, which shares the two cores.
        json shared = base("revalidator+worker", c);
        if (shared.is_object()) {
            const std::string also = ", worker on the same cores";
            rows.push_back({where + "req/s" + also, num(at(shared, "/rps")), "", "", "",
                            join({ratio(get(shared, "/rps"), nd_rps, "node")}), "", ""});
            rows.push_back({where + "p99 ms" + also, num(at(shared, "/latency_ms/p99"), 2), "", "",
                            "", "", "", ""});
            rows.push_back({where + "errors" + also, errors(shared), "", "", "", "", "", ""});
        }
    }
}

// Reads of rows and lists, revalidator's read routes against nginx serving the same bytes
// (targets: row hits at least 0.5x nginx, p99 <= 10 ms at 128 connections, no errors; a list at
// least 0.8x nginx, its 304 and its gzip at least 0.5x, nginx's gzip being the precompressed
// file; and the ingress's peak memory while 32 clients read a list within twice the list and
// 50 MB).
double read_target(const std::string& variant) {
    if (variant == "row") return 0.5;
    if (variant.ends_with(" 304") || variant.ends_with(" gzip")) return 0.5;
    return 0.8;
}

void read_rows(const Runs& r, std::vector<Row>& rows) {
    for (const auto& [variant, by_server] : r.read) {
        auto rev = by_server.find("revalidator");
        if (rev == by_server.end()) continue;
        auto ng_of = [&](int c) -> json {
            auto s = by_server.find("nginx");
            if (s == by_server.end()) return json();
            auto it = s->second.find(c);
            return it == s->second.end() ? json() : it->second;
        };
        const bool row = variant == "row";
        for (const auto& [c, run] : rev->second) {
            json ng = ng_of(c);
            std::string where = "read " + variant + " c=" + std::to_string(c) + " ";
            double rps = get(run, "/rps"), ng_rps = get(ng, "/rps");
            const double target = read_target(variant);
            rows.push_back({where + "req/s", num(at(run, "/rps")), num(at(ng, "/rps")), "", "",
                            ratio(rps, ng_rps, "nginx"), ">= " + num(target, 1) + "x nginx",
                            std::isnan(ng_rps) ? "" : verdict(rps >= target * ng_rps)});
            if (run.contains("rss_peak_kb")) {
                const double mb = get(run, "/rss_peak_kb") / 1024;
                const double bound = 2 * get(run, "/body_bytes") / 1e6 + 50;
                rows.push_back({where + "ingress RSS MB, peak", num(mb, 1), "", "", "", "",
                                "<= " + num(bound, 1) + " (2x list + 50)", verdict(mb <= bound)});
            }
            if (!run.value("revalidate", false)) {
                rows.push_back({where + "MB/s (" + num(at(run, "/body_bytes")) + " bytes each)",
                                num(at(run, "/mb_per_s"), 1), num(at(ng, "/mb_per_s"), 1), "", "",
                                "", "", ""});
            }
            const double p99 = get(run, "/latency_ms/p99");
            const bool targeted = row && c >= 128;
            rows.push_back({where + "p99 ms", num(at(run, "/latency_ms/p99"), 2),
                            num(at(ng, "/latency_ms/p99"), 2), "", "", "",
                            targeted ? "<= 10 ms" : "", targeted ? verdict(p99 <= 10) : ""});
            rows.push_back({where + "errors", error_text(run), error_text(ng), "", "", "", "0",
                            verdict(run.value("error_total", 1) == 0)});
        }
    }
}

void wrk_rows(const Runs& r, std::vector<Row>& rows) {
    auto wrk = r.wrk.find("nginx");
    auto ours = r.ack.find("nginx");
    if (wrk == r.wrk.end() || ours == r.ack.end()) return;
    for (const auto& [c, run] : wrk->second) {
        auto it = ours->second.find(c);
        if (it == ours->second.end()) continue;
        double mine = get(it->second, "/rps"), theirs = get(run, "/rps");
        rows.push_back({"loadgen check: nginx c=" + std::to_string(c) + " req/s", "-",
                        num(at(it->second, "/rps")), "", "wrk " + num(at(run, "/rps")),
                        ratio(mine, theirs, "wrk"), ">= 0.9x wrk", verdict(mine >= 0.9 * theirs)});
    }
}

void worker_rows(const Runs& r, std::vector<Row>& rows) {
    auto rev = r.worker.find("revalidator");
    if (rev == r.worker.end()) return;
    auto orig = r.worker.find("original");
    for (const auto& [n, run] : rev->second) {
        json o;
        if (orig != r.worker.end() && orig->second.count(n)) o = orig->second.at(n);
        std::string where = "worker " + thousands(n) + " rows ";
        double eps = get(run, "/events_per_s"), base = get(o, "/events_per_s");
        std::string target = ">= 1000x original";
        bool met = !std::isnan(eps) && !std::isnan(base) && eps >= 1000 * base;
        if (n == 10'000) {
            target = ">= 150,000 and >= 1000x original";
            met = met && eps >= 150'000;
        }
        rows.push_back({where + "events/s", num(at(run, "/events_per_s")), "", "",
                        "original " + num(at(o, "/events_per_s"), 1), ratio(eps, base, "original"),
                        target, verdict(met)});
        rows.push_back(
            {where + "ms per batch", num(at(run, "/batch_ms_mean"), 1), "", "", "", "", "", ""});
        json div = at(run, "/final_check/keys_divergent");
        rows.push_back({where + "divergent keys", num(div), "", "", "", "", "0",
                        verdict(div.is_number() && div.get<int>() == 0)});
    }
}

void e2e_rows(const Runs& r, std::vector<Row>& rows) {
    for (const auto& run : r.e2e) {
        std::string where = "e2e " + run.value("kind", std::string("?")) + " " +
                            thousands(run.value("count", 0ul)) + " @ " +
                            thousands(run.value("rows", 0ul)) + " rows ";
        const bool burst = run.value("kind", "") == "burst";
        const std::size_t table = run.value("rows", 0ul);
        const bool burst_10k = burst && table == 10'000;
        // The original system's burst: 1,000 webhooks, 32 at a time, at 1,000 rows.
        const bool original_burst = burst && table == 1'000 && run.value("count", 0ul) == 1'000;
        // Staleness p99 targets: 50 ms for the burst at 10k rows, 100 ms at 100k.
        const double p99_target = burst_10k ? 50 : burst && table == 100'000 ? 100 : 0;
        double ack_max = get(run, "/ack_ms/max");
        rows.push_back(
            {where + "ack p99 ms", num(at(run, "/ack_ms/p99"), 2), "", "", "", "", "", ""});
        rows.push_back({where + "ack max ms", num(at(run, "/ack_ms/max"), 2), "", "", "", "",
                        burst_10k ? "< 100 ms" : "", burst_10k ? verdict(ack_max < 100) : ""});
        rows.push_back(
            {where + "webhooks/s", num(at(run, "/webhooks_per_s")), "", "", "", "", "", ""});
        rows.push_back({where + "errors", num(at(run, "/error_total")), "", "", "", "", "0",
                        verdict(run.value("error_total", 1) == 0)});
        for (const char* p : {"p50", "p99", "max"}) {
            const bool targeted = p99_target > 0 && std::string_view(p) == "p99";
            const double v = get(run, std::string("/staleness_ms/") + p);
            rows.push_back({where + "staleness " + p + " ms",
                            num(at(run, std::string("/staleness_ms/") + p), 1), "", "", "", "",
                            targeted ? "<= " + num(p99_target, 0) + " ms" : "",
                            targeted ? verdict(v <= p99_target) : ""});
        }
        json conv = at(run, "/converge_s");
        bool converged = conv.is_number();
        const double conv_target = original_burst ? 0.010 : burst_10k ? 1.0 : 0;
        rows.push_back(
            {where + "all keys correct, s after last ack", converged ? num(conv, 3) : "never", "",
             "", "", "", conv_target > 0 ? "<= " + num(conv_target * 1e3, 0) + " ms" : "converges",
             verdict(converged && (conv_target == 0 || conv.get<double>() <= conv_target))});
        rows.push_back(
            {where + "ms in batches / reading Postgres",
             num(at(run, "/worker_batch_ms"), 1) + " / " + num(at(run, "/worker_read_ms"), 1), "",
             "", "", "", "", ""});
        rows.push_back({where + "list rebuilds", num(at(run, "/list_rebuilds")), "", "", "",
                        "for " + thousands(run.value("count", 0ul)) + " webhooks", "few", ""});
        json div = at(run, "/final_check/keys_divergent");
        rows.push_back({where + "divergent keys", num(div), "", "", "", "", "0",
                        verdict(div.is_number() && div.get<int>() == 0)});
    }
}

void open_loop_rows(const Runs& r, std::vector<Row>& rows) {
    for (const auto& run : r.open_loop) {
        std::string where = run.value("server", std::string("?")) + " open loop " +
                            num(at(run, "/rate")) + "/s, " + num(at(run, "/duration_s")) +
                            " s, c=" + num(at(run, "/connections")) + " ";
        rows.push_back({where + "req/s", num(at(run, "/rps")), "", "", "", "", "", ""});
        for (const char* p : {"p50", "p99", "p99.9", "max"}) {
            rows.push_back({where + p + " ms", num(at(run, std::string("/latency_ms/") + p), 2), "",
                            "", "", "", "", ""});
        }
        rows.push_back({where + "errors", num(at(run, "/error_total")), "", "", "", "", "0",
                        verdict(run.value("error_total", 1) == 0)});
    }
}

// RSS checkpoints written by bench/run: start, soak_start, soak_half, soak_end, end (kB).
void rss_rows(const Runs& r, std::vector<Row>& rows) {
    for (const auto& [process, run] : r.rss) {
        auto mb = [&](const char* checkpoint) {
            return get(run, std::string("/kb/") + checkpoint) / 1024;
        };
        rows.push_back({process + " RSS MB start -> end (peak)",
                        fixed(mb("start"), 1) + " -> " + fixed(mb("end"), 1) + " (" +
                            fixed(get(run, "/peak_kb") / 1024, 1) + ")",
                        "", "", "", "", "bounded", ""});
        double half = mb("soak_half"), end = mb("soak_end");
        if (std::isnan(half) || std::isnan(end)) continue;
        rows.push_back(
            {process + " RSS MB soak start -> half -> end",
             fixed(mb("soak_start"), 1) + " -> " + fixed(half, 1) + " -> " + fixed(end, 1), "", "",
             "", "", "2nd half flat (<= +10%)", verdict(end <= half * 1.10)});
    }
}

void print_table(const std::vector<Row>& rows) {
    const std::vector<std::string> head = {"figure", "revalidator", "nginx",  "node",
                                           "other",  "ratio",       "target", "verdict"};
    auto cells = [](const Row& r) {
        return std::vector<std::string>{r.figure, r.value, r.nginx,  r.node,
                                        r.other,  r.ratio, r.target, r.verdict};
    };
    std::vector<std::size_t> width(head.size());
    for (std::size_t i = 0; i < head.size(); ++i) width[i] = head[i].size();
    for (const auto& r : rows) {
        auto c = cells(r);
        for (std::size_t i = 0; i < c.size(); ++i) width[i] = std::max(width[i], c[i].size());
    }
    auto line = [&](const std::vector<std::string>& c) {
        std::string out;
        for (std::size_t i = 0; i < c.size(); ++i) {
            std::string pad(width[i] - c[i].size(), ' ');
            bool left = i == 0 || i >= 5;  // text columns left, numbers right
            out += left ? c[i] + pad : pad + c[i];
            if (i + 1 < c.size()) out += "  ";
        }
        while (!out.empty() && out.back() == ' ') out.pop_back();
        std::cout << out << "\n";
    };
    line(head);
    std::size_t total = 2 * (head.size() - 1);
    for (auto w : width) total += w;
    std::cout << std::string(total, '-') << "\n";
    for (const auto& r : rows) line(cells(r));
}

// Percentile rows x one column per series, for gnuplot's "columnhead".
void write_dat(const fs::path& path, const std::vector<std::pair<std::string, json>>& series,
               const std::vector<std::string>& percentiles) {
    std::ofstream f(path);
    f << "percentile";
    for (const auto& [name, _] : series) f << " \"" << name << "\"";
    f << "\n";
    for (const auto& p : percentiles) {
        f << "\"" << p << "\"";
        for (const auto& [_, summary] : series) {
            f << " " << (summary.contains(p) ? summary[p].dump() : "NaN");
        }
        f << "\n";
    }
}

void write_plot_data(const Runs& r, const std::string& dir) {
    fs::create_directories(dir);
    std::vector<std::pair<std::string, json>> ack;
    for (const char* server : {"revalidator", "node", "nginx"}) {
        auto s = r.ack.find(server);
        if (s == r.ack.end()) continue;
        for (const auto& [c, run] : s->second) {
            ack.emplace_back(std::string(server) + " c=" + std::to_string(c),
                             at(run, "/latency_ms"));
        }
    }
    write_dat(fs::path(dir) / "ack.dat", ack, {"p50", "p90", "p99", "p99.9", "max"});
    std::vector<std::pair<std::string, json>> e2e;
    for (const auto& run : r.e2e) {
        std::string name = run.value("kind", std::string("?")) + " " +
                           thousands(run.value("count", 0ul)) + "@" +
                           thousands(run.value("rows", 0ul));
        e2e.emplace_back(name + " ack", at(run, "/ack_ms"));
        e2e.emplace_back(name + " staleness", at(run, "/staleness_ms"));
    }
    write_dat(fs::path(dir) / "e2e.dat", e2e, {"p50", "p90", "p99", "max"});
}

int run_report(const ReportOptions& o) {
    Runs r = load(o.runs_dir);
    std::vector<Row> rows;
    ack_rows(r, rows);
    wrk_rows(r, rows);
    worker_rows(r, rows);
    e2e_rows(r, rows);
    open_loop_rows(r, rows);
    read_rows(r, rows);
    rss_rows(r, rows);
    print_table(rows);

    json table = json::array();
    for (const auto& row : rows) {
        table.push_back({{"figure", row.figure},
                         {"revalidator", row.value},
                         {"nginx", row.nginx},
                         {"node", row.node},
                         {"other", row.other},
                         {"ratio", row.ratio},
                         {"target", row.target},
                         {"verdict", row.verdict}});
    }
    write_json_file(o.json, {{"runs", r.all}, {"table", table}});
    if (!o.plot_dir.empty()) write_plot_data(r, o.plot_dir);
    return 0;
}

}  // namespace

void add_report_command(CLI::App& app) {
    auto o = std::make_shared<ReportOptions>();
    auto* cmd = app.add_subcommand(
        "report", "one table of figures, ratios and targets from a directory of --json results");
    cmd->add_option("--runs", o->runs_dir, "directory of result files (*.json)")
        ->required()
        ->check(CLI::ExistingDirectory);
    cmd->add_option("--json", o->json, "write every result and the table to this file");
    cmd->add_option("--plot-dir", o->plot_dir, "write gnuplot data files (ack.dat, e2e.dat) here");
    cmd->callback([o] {
        int rc = run_report(*o);
        if (rc) throw CLI::RuntimeError(rc);
    });
}

}  // namespace loadgen
