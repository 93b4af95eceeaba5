// `metrics_registry`: what the hand-written registry (shared/runtime/metrics.hpp) costs against
// prometheus-cpp's core (Debian's prometheus-cpp-dev), for the three things a process does with
// metrics: a counter increment and a histogram observation on the hot paths (an ack, a batch), on
// one thread and on two at once on the same series; and a scrape, the whole page of 100 counters
// and 10 histograms of the latency buckets rendered as text. Built only where prometheus-cpp is
// installed (bench/CMakeLists.txt). After Google Benchmark's own table it prints each
// prometheus-cpp figure's ratio to ours (above 1: prometheus-cpp is slower). docs/metrics.md
// holds the figures and the decision they support.
//   build/bench/metrics_registry [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "runtime/metrics.hpp"

namespace {

namespace ours = revalidator::metrics;

// Latencies around the buckets' middle, so that a bucket search does some work.
const std::vector<double> kObservations = {0.0003, 0.002, 0.0007, 0.04, 0.0012, 0.3, 0.009, 2.0};

void BM_counter_inc_ours(benchmark::State& state) {
    static ours::Registry registry;
    static ours::Counter& c = registry.counter("c_total", "C");
    for (auto _ : state) c.inc();
    benchmark::DoNotOptimize(c.value());
}
BENCHMARK(BM_counter_inc_ours)->Threads(1)->Threads(2);

void BM_counter_inc_prometheus_cpp(benchmark::State& state) {
    static prometheus::Registry registry;
    static prometheus::Counter& c =
        prometheus::BuildCounter().Name("c_total").Help("C").Register(registry).Add({});
    for (auto _ : state) c.Increment();
    benchmark::DoNotOptimize(c.Value());
}
BENCHMARK(BM_counter_inc_prometheus_cpp)->Threads(1)->Threads(2);

void BM_histogram_observe_ours(benchmark::State& state) {
    static ours::Registry registry;
    static ours::Histogram& h = registry.histogram("h_seconds", "H", ours::latency_buckets());
    std::size_t i = 0;
    for (auto _ : state) h.observe(kObservations[i++ % kObservations.size()]);
    benchmark::DoNotOptimize(h.count());
}
BENCHMARK(BM_histogram_observe_ours)->Threads(1)->Threads(2);

void BM_histogram_observe_prometheus_cpp(benchmark::State& state) {
    static prometheus::Registry registry;
    static prometheus::Histogram& h = prometheus::BuildHistogram()
                                          .Name("h_seconds")
                                          .Help("H")
                                          .Register(registry)
                                          .Add({}, ours::latency_buckets());
    std::size_t i = 0;
    for (auto _ : state) h.Observe(kObservations[i++ % kObservations.size()]);
}
BENCHMARK(BM_histogram_observe_prometheus_cpp)->Threads(1)->Threads(2);

constexpr int kCounters = 100;
constexpr int kHistograms = 10;

void BM_scrape_ours(benchmark::State& state) {
    ours::Registry registry;
    for (int i = 0; i < kCounters; ++i) {
        registry
            .counter("c" + std::to_string(i % 20) + "_total", "C",
                     ours::label("n", std::to_string(i)))
            .inc(static_cast<std::uint64_t>(i));
    }
    for (int i = 0; i < kHistograms; ++i) {
        registry.histogram("h" + std::to_string(i) + "_seconds", "H", ours::latency_buckets())
            .observe(0.001 * i);
    }
    for (auto _ : state) benchmark::DoNotOptimize(registry.render());
}
BENCHMARK(BM_scrape_ours);

void BM_scrape_prometheus_cpp(benchmark::State& state) {
    prometheus::Registry registry;
    for (int i = 0; i < kCounters; ++i) {
        prometheus::BuildCounter()
            .Name("c" + std::to_string(i % 20) + "_total")
            .Help("C")
            .Register(registry)
            .Add({{"n", std::to_string(i)}})
            .Increment(i);
    }
    for (int i = 0; i < kHistograms; ++i) {
        prometheus::BuildHistogram()
            .Name("h" + std::to_string(i) + "_seconds")
            .Help("H")
            .Register(registry)
            .Add({}, ours::latency_buckets())
            .Observe(0.001 * i);
    }
    const prometheus::TextSerializer text;
    for (auto _ : state) {
        std::ostringstream out;
        text.Serialize(out, registry.Collect());
        benchmark::DoNotOptimize(out.str());
    }
}
BENCHMARK(BM_scrape_prometheus_cpp);

// Keeps each run's time per iteration, by name, for the ratios.
class Ratios : public benchmark::ConsoleReporter {
  public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const auto& r : runs) {
            if (r.run_type == Run::RT_Iteration || r.aggregate_name == "mean") {
                times[r.run_name.str()] = r.GetAdjustedRealTime();
            }
        }
    }
    std::map<std::string, double> times;
};

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    Ratios reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    std::printf("\nprometheus-cpp / ours (time per operation):\n");
    for (const auto& [name, ns] : reporter.times) {
        const auto at = name.find("_prometheus_cpp");
        if (at == std::string::npos) continue;
        std::string mine = name;
        mine.replace(at, 15, "_ours");
        const auto it = reporter.times.find(mine);
        if (it == reporter.times.end() || it->second <= 0) continue;
        std::printf("  %-44s %8.1f ns vs %8.1f ns  %5.2fx\n", name.c_str(), ns, it->second,
                    ns / it->second);
    }
    benchmark::Shutdown();
}
