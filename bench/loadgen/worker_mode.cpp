// `loadgen worker`: the worker alone. Events go straight into its PULL endpoint over ZeroMQ, as an
// ingress would send them (wire::encode, one fresh stream, seq 1..N, then END so that the next run
// is not taken for a restart that lost events). The figure is events applied per second: from the
// first event sent until the worker has received all of them, owes nothing (pending keys 0), and
// Memcached shows a row that was changed just before the last event was sent.
//
// With --baseline-original it runs the original algorithm in-process instead (original.hpp), for
// the worker/original ratio.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <random>
#include <thread>
#include <unordered_set>

#include <zmq.hpp>

#include "consistency.hpp"
#include "format.hpp"
#include "metrics_page.hpp"
#include "modes.hpp"
#include "original.hpp"
#include "runtime/clock.hpp"
#include "wire/wire.hpp"

namespace loadgen {

namespace {

struct WorkerOptions {
    std::string endpoint = "tcp://127.0.0.1:5555";
    std::string postgres_url;
    std::string memcached = "127.0.0.1:11211";
    std::string metrics_url;
    TableSpec table;
    std::uint64_t events = 100'000;
    unsigned repeat = 1;
    double max_seconds = 60;
    double wait_consistent_s = 60;
    std::string stream = "loadgen";
    std::uint64_t seed = 1;
    bool original = false;
    OriginalLimits original_limits;
    std::string original_prefix = "/loadgen-original";
    std::string json;
    bool list = true;  // the worker's --list: false, the list must be absent
};

// The worker's counters that a run moves.
struct WorkerCounters {
    double events = 0, pending = 0, batches = 0, rebuilds = 0, rows_read = 0;
    double list_seconds_sum = 0, list_seconds_count = 0;

    static WorkerCounters read(const std::string& url) {
        MetricsPage p = MetricsPage::fetch(url);
        auto v = [&](const char* name) { return p.value(name).value_or(NAN); };
        return {v("revalidator_worker_events_total"),
                v("revalidator_worker_pending_keys"),
                v("revalidator_worker_batches_total"),
                v("revalidator_worker_list_rebuilds_total"),
                v("revalidator_worker_rows_read_total"),
                v("revalidator_worker_list_rebuild_seconds_sum"),
                v("revalidator_worker_list_rebuild_seconds_count")};
    }
};

// NaN (a metric the worker does not export) becomes null in JSON.
nlohmann::json number(double v) {
    return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v);
}

int run_original_mode(const WorkerOptions& o) {
    Truth truth(o.postgres_url, o.table);
    CacheView cache(o.memcached);
    std::size_t rows = truth.count();
    OriginalResult r =
        run_original(truth, cache, o.original_prefix, truth.all_ids(), o.original_limits, o.seed);
    double eps = r.seconds > 0 ? static_cast<double>(r.events) / r.seconds : 0;
    nlohmann::json j = {
        {"mode", "worker"},           {"algorithm", "original"},       {"rows", rows},
        {"events", r.events},         {"seconds", r.seconds},          {"events_per_s", eps},
        {"list_bytes", r.list_bytes}, {"write_errors", r.write_errors}};
    write_json_file(o.json, j);
    std::cout << "worker (original algorithm: per event, write the row, re-read and write the list)"
              << "  rows=" << thousands(rows) << "\n"
              << "  events       " << thousands(r.events) << " in " << fixed(r.seconds, 2) << " s\n"
              << "  throughput   " << fixed(eps, 1) << " events/s\n"
              << "  list         " << thousands(r.list_bytes) << " bytes per write\n";
    return 0;
}

// One measurement: changes the rows, sends the events on a fresh stream, waits for the worker.
nlohmann::json measure_once(const WorkerOptions& o, Truth& truth, CacheView& cache,
                            const std::vector<std::string>& ids, std::mt19937_64& rng,
                            zmq::socket_t& push) {
    using namespace std::chrono;
    // Each event names a random row; all of them are changed first so the worker writes real
    // changes. The last event's row is changed once more right before it is sent: seeing that
    // change in Memcached proves the last event was applied.
    std::uniform_int_distribution<std::size_t> pick(0, ids.size() - 1);
    std::vector<std::string> pks(o.events);
    std::unordered_set<std::string> distinct;
    for (auto& pk : pks) {
        pk = ids[pick(rng)];
        distinct.insert(pk);
    }
    truth.bump({distinct.begin(), distinct.end()});

    // Frames are encoded before the clock starts, so that encoding does not compete with the
    // worker for CPU. Their receive time is the encoding time: the worker's staleness histogram
    // counts these events up to that much older than they are.
    revalidator::Event e;
    e.stream = o.stream + "-" + std::to_string(::getpid()) + "-" +
               std::to_string(revalidator::unix_micros());
    e.epoch = revalidator::unix_micros();
    e.op = revalidator::Op::Update;
    e.schema = o.table.schema;
    e.table = o.table.table;
    std::vector<std::string> frames;
    frames.reserve(o.events + 1);
    for (const auto& pk : pks) {
        ++e.seq;
        e.received_us = revalidator::unix_micros();
        e.pk = pk;
        frames.push_back(revalidator::wire::encode(e));
    }
    ++e.seq;
    e.op = revalidator::Op::End;
    e.pk.clear();
    frames.push_back(revalidator::wire::encode(e));
    auto send = [&](const std::string& frame) {
        push.send(zmq::buffer(frame), zmq::send_flags::none);
    };

    WorkerCounters c0 = WorkerCounters::read(o.metrics_url);
    auto t0 = steady_clock::now();
    for (std::uint64_t i = 0; i + 1 < o.events; ++i) send(frames[i]);
    const std::string& sentinel = pks.back();
    std::string expected = truth.bump({sentinel}).at(0).json;
    send(frames[o.events - 1]);
    auto sent_s = duration<double>(steady_clock::now() - t0).count();
    send(frames.back());

    auto deadline = t0 + duration_cast<steady_clock::duration>(duration<double>(o.max_seconds));
    const double want_events = static_cast<double>(o.events + 1);  // with the END marker
    bool drained = false;
    WorkerCounters c1 = c0;
    while (steady_clock::now() < deadline) {
        c1 = WorkerCounters::read(o.metrics_url);
        if (c1.events - c0.events >= want_events && c1.pending == 0 &&
            cache.get(o.table.prefix + "/" + sentinel) == expected) {
            drained = true;
            break;
        }
        std::this_thread::sleep_for(milliseconds(2));
    }
    double seconds = duration<double>(steady_clock::now() - t0).count();
    double eps = drained ? static_cast<double>(o.events) / seconds : 0;
    double batches = c1.batches - c0.batches, rebuilds = c1.rebuilds - c0.rebuilds;
    double list_write_ms = (c1.list_seconds_sum - c0.list_seconds_sum) /
                           (c1.list_seconds_count - c0.list_seconds_count) * 1e3;
    std::cout << "  " << thousands(distinct.size()) << " distinct rows, sent in "
              << fixed(sent_s, 3) << " s, applied in " << fixed(seconds, 3) << " s"
              << (drained ? "" : " (NOT DRAINED by --max-seconds)") << ": "
              << thousands(static_cast<std::uint64_t>(eps)) << " events/s; " << fixed(batches, 0)
              << " batches, " << fixed(seconds / batches * 1e3, 1)
              << " ms each, list write "
              // A collection without a list (list = false) writes none: no time to divide.
              << (std::isnan(list_write_ms) ? std::string("none") : fixed(list_write_ms, 1) + " ms")
              << "\n";
    return {{"distinct_rows", distinct.size()},
            {"send_s", sent_s},
            {"seconds", seconds},
            {"drained", drained},
            {"events_per_s", drained ? nlohmann::json(eps) : nlohmann::json(nullptr)},
            {"events_received", number(c1.events - c0.events)},
            {"batches", number(batches)},
            {"list_rebuilds", number(rebuilds)},
            {"rows_read", number(c1.rows_read - c0.rows_read)},
            {"batch_ms_mean", number(seconds / batches * 1e3)},
            {"list_write_ms_mean", number(list_write_ms)}};
}

int run_worker_mode(const WorkerOptions& o) {
    Truth truth(o.postgres_url, o.table);
    CacheView cache(o.memcached);
    std::size_t rows = truth.count();
    std::vector<std::string> ids = truth.all_ids();
    if (ids.empty() || o.events == 0 || o.repeat == 0) {
        std::cerr << "worker: the table is empty, or --events or --repeat is 0\n";
        return 2;
    }
    Divergence before = wait_consistent(truth, cache, o.table.prefix, o.wait_consistent_s, o.list);
    if (before.keys_divergent() != 0) {
        std::cerr << "worker: the cache does not equal Postgres before the run ("
                  << before.keys_divergent() << " keys differ); is the worker running?\n";
        return 1;
    }
    zmq::context_t ctx(1);
    zmq::socket_t push(ctx, zmq::socket_type::push);
    push.set(zmq::sockopt::sndhwm, 0);  // unbounded here: the worker's receive HWM is what counts
    push.set(zmq::sockopt::linger, 5000);
    push.connect(o.endpoint);

    std::cout << "worker (revalidator) " << o.endpoint << "  rows=" << thousands(rows)
              << " events=" << thousands(o.events) << " x " << o.repeat << "\n";
    std::mt19937_64 rng(o.seed);
    std::vector<nlohmann::json> repeats;
    for (unsigned i = 0; i < o.repeat; ++i)
        repeats.push_back(measure_once(o, truth, cache, ids, rng, push));
    Divergence after = compare(truth.snapshot(), cache, o.table.prefix, o.list);

    // The median repetition by events/s stands for the run; one that did not drain counts as 0.
    auto eps = [](const nlohmann::json& r) {
        auto it = r.find("events_per_s");
        return it != r.end() && it->is_number() ? it->get<double>() : 0.0;
    };
    std::vector<nlohmann::json> sorted = repeats;
    std::sort(sorted.begin(), sorted.end(),
              [&](const auto& a, const auto& b) { return eps(a) < eps(b); });
    nlohmann::json j = sorted[sorted.size() / 2];
    j["mode"] = "worker";
    j["algorithm"] = "revalidator";
    j["rows"] = rows;
    j["events"] = o.events;
    j["repeats"] = repeats;
    j["final_check"] = to_json(after);
    write_json_file(o.json, j);
    bool drained = std::all_of(repeats.begin(), repeats.end(),
                               [](const auto& r) { return r.value("drained", false); });
    std::cout << "  median       " << thousands(static_cast<std::uint64_t>(eps(j))) << " events/s\n"
              << "  final check  " << after.keys_divergent() << " of " << thousands(after.rows + 1)
              << " keys divergent\n";
    return drained && after.keys_divergent() == 0 ? 0 : 1;
}

}  // namespace

void add_worker_command(CLI::App& app) {
    auto o = std::make_shared<WorkerOptions>();
    auto* cmd = app.add_subcommand(
        "worker",
        "inject events into the worker over ZeroMQ and measure events applied per second");
    cmd->add_option("--endpoint", o->endpoint, "the worker's PULL endpoint (its --bind)")
        ->capture_default_str();
    cmd->add_option("--postgres-url", o->postgres_url, "the database the worker reads")->required();
    cmd->add_option("--memcached", o->memcached, "the Memcached the worker writes")
        ->capture_default_str();
    cmd->add_option("--worker-metrics", o->metrics_url,
                    "the worker's metrics, http://host:admin-port/metrics");
    add_table_options(*cmd, o->table);
    cmd->add_option("-n,--events", o->events, "events sent")->capture_default_str();
    cmd->add_option("--repeat", o->repeat,
                    "measurements in a row; the median by events/s stands for the run")
        ->capture_default_str();
    cmd->add_option("--max-seconds", o->max_seconds,
                    "give up waiting for the worker after this, per measurement")
        ->capture_default_str();
    cmd->add_option("--wait-consistent", o->wait_consistent_s,
                    "seconds to wait for the cache to equal Postgres before starting")
        ->capture_default_str();
    cmd->add_option("--stream", o->stream, "stream name prefix of the injected events")
        ->capture_default_str();
    cmd->add_option("--seed", o->seed, "random seed for the ids")->capture_default_str();
    cmd->add_flag("--baseline-original", o->original,
                  "run the original algorithm in-process instead of injecting events");
    cmd->add_option("--original-events", o->original_limits.max_events,
                    "original algorithm: most events applied")
        ->capture_default_str();
    cmd->add_option("--original-seconds", o->original_limits.max_seconds,
                    "original algorithm: most seconds spent")
        ->capture_default_str();
    cmd->add_option("--original-prefix", o->original_prefix,
                    "original algorithm: its key prefix, apart from the worker's")
        ->capture_default_str();
    cmd->add_option("--max-item-bytes", o->original_limits.max_item_bytes,
                    "original algorithm: largest item written whole")
        ->capture_default_str();
    cmd->add_option("--json", o->json, "also write the result as JSON to this file");
    cmd->add_option("--list", o->list,
                    "whether the worker keeps the list (its --list); false: the final check "
                    "wants the list absent")
        ->capture_default_str();
    cmd->callback([o] {
        if (!o->original && o->metrics_url.empty())
            throw CLI::RequiredError("--worker-metrics (needed unless --baseline-original)");
        int rc = o->original ? run_original_mode(*o) : run_worker_mode(*o);
        if (rc) throw CLI::RuntimeError(rc);
    });
}

}  // namespace loadgen
