// `wire_codec`: what the wire codec costs per event, each way, against the nlohmann codec it
// replaced (encode_reference and decode_reference, kept as the definition the fast codec is held
// to). encode runs in the ingress's publisher for every event; decode in the worker for every
// frame. Events: a typical one (a uuid-like stream, 20-digit numbers, public.articles, an integer
// key) and one with a 200-byte text key. Every way's frame and event are checked against the
// reference's before anything is timed. After Google Benchmark's own table it prints, for each
// event and direction, the least time per call of the repetitions and the ratio of the new codec
// to the reference.
//   build-rel/bench/wire_codec --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "wire/wire.hpp"

namespace {

using revalidator::Event;
using revalidator::Op;
namespace wire = revalidator::wire;

struct Sample {
    std::string name;
    Event event;
    std::string frame;
};

std::vector<Sample> samples() {
    const Event typical{"3f2504e0-4f89-41d3-9a0c-0305e82c3301",
                        17180000001234567890u,
                        12345678901234567890u,
                        17180000421234567890u,
                        Op::Update,
                        "public",
                        "articles",
                        "4711"};
    Event long_pk = typical;
    long_pk.pk.clear();
    while (long_pk.pk.size() < 200) long_pk.pk += "caf\xc3\xa9-slug_";
    long_pk.pk.resize(200);
    return {{"typical", typical, wire::encode_reference(typical)},
            {"pk200", long_pk, wire::encode_reference(long_pk)}};
}

// The ways, each timed on every sample: `fast` is the codec, `reference` nlohmann's.
struct Way {
    std::string direction;  // "encode" or "decode"
    bool fast;
};

void run(const Way& way, const Sample& s) {
    if (way.direction == "encode") {
        auto frame = way.fast ? wire::encode(s.event) : wire::encode_reference(s.event);
        benchmark::DoNotOptimize(frame);
    } else {
        auto event = way.fast ? wire::decode(s.frame) : wire::decode_reference(s.frame);
        benchmark::DoNotOptimize(event);
    }
}

std::string name_of(const Way& way, const Sample& s) {
    return way.direction + (way.fast ? "/new/" : "/reference/") + s.name;
}

// Keeps the least real time per call of each benchmark over its repetitions (the machine is
// shared) and prints Google Benchmark's table as it runs.
class Least : public benchmark::ConsoleReporter {
  public:
    void ReportRuns(const std::vector<Run>& runs) override {
        for (const auto& r : runs) {
            if (r.run_type != Run::RT_Iteration) continue;
            const double ns = r.GetAdjustedRealTime();
            auto [it, first] = least_.emplace(r.benchmark_name(), ns);
            if (!first) it->second = std::min(it->second, ns);
        }
        ConsoleReporter::ReportRuns(runs);
    }
    double ns(const std::string& name) const {
        auto it = least_.find(name);
        return it == least_.end() ? 0 : it->second;
    }

  private:
    std::map<std::string, double> least_;
};

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    const auto all = samples();
    for (const auto& s : all) {
        auto decoded = wire::decode(s.frame);
        auto reference = wire::decode_reference(s.frame);
        if (wire::encode(s.event) != s.frame || !decoded || !reference || !(*decoded == s.event) ||
            !(*reference == s.event)) {
            std::fprintf(stderr, "%s: the codec and the reference disagree\n", s.name.c_str());
            return 1;
        }
    }
    const std::vector<Way> ways = {
        {"encode", true}, {"encode", false}, {"decode", true}, {"decode", false}};
    for (const auto& way : ways) {
        for (const auto& s : all) {
            benchmark::RegisterBenchmark(name_of(way, s).c_str(),
                                         [&way, &s](benchmark::State& state) {
                                             for (auto _ : state) run(way, s);
                                         });
        }
    }
    Least least;
    benchmark::RunSpecifiedBenchmarks(&least);
    std::printf("\n%-8s %6s %-7s %12s %12s %7s\n", "event", "bytes", "way", "new", "reference",
                "ratio");
    for (const auto& s : all) {
        for (const char* direction : {"encode", "decode"}) {
            const double fast = least.ns(name_of({direction, true}, s));
            const double reference = least.ns(name_of({direction, false}, s));
            std::printf("%-8s %6zu %-7s %9.1f ns %9.1f ns %7.3f\n", s.name.c_str(), s.frame.size(),
                        direction, fast, reference, reference > 0 ? fast / reference : 0);
        }
    }
    std::printf(
        "least time per call of the repetitions; ratio: new / reference (0: filtered "
        "out)\n");
    benchmark::Shutdown();
    return 0;
}
