// Metrics in the Prometheus text exposition format (version 0.0.4). Series are registered once at
// start-up and then updated lock-free from any thread; render() is what GET /metrics returns.
// docs/metrics.md lists every series both processes export.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace revalidator::metrics {

class Counter {
  public:
    void inc(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

  private:
    std::atomic<std::uint64_t> v_{0};
};

class Gauge {
  public:
    void set(double v) { v_.store(v, std::memory_order_relaxed); }
    double value() const { return v_.load(std::memory_order_relaxed); }

  private:
    std::atomic<double> v_{0};
};

class Histogram {
  public:
    explicit Histogram(std::vector<double> upper_bounds);
    void observe(double v);
    std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
    double sum() const { return sum_.load(std::memory_order_relaxed); }
    const std::vector<double>& bounds() const { return bounds_; }
    std::uint64_t bucket(std::size_t i) const {
        return buckets_[i].load(std::memory_order_relaxed);
    }

  private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // cumulative at render time, not here
    std::atomic<std::uint64_t> count_{0};
    std::atomic<double> sum_{0};
};

// Bucket bounds for latencies in seconds: 100 us .. 10 s.
std::vector<double> latency_buckets();
// One label as the text format writes it, name="value", the value escaped (\\, \", \n): a
// table's name may hold any of them.
std::string label(std::string_view name, std::string_view value);
// Bucket bounds for sizes and counts: 1 .. 100k.
std::vector<double> size_buckets();

class Registry {
  public:
    Registry() = default;
    // A scope of `parent`: every series it registers lands in `parent` (and so in its render())
    // with `labels` before its own, e.g. R"(collection="articles")". A process serving several
    // tables gives each table's parts a scope of their own, so their series stay apart.
    Registry(Registry& parent, std::string labels);
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    // `labels` is the rendered label set without braces, e.g. R"(status="202")", or empty.
    Counter& counter(const std::string& name, const std::string& help,
                     const std::string& labels = "");
    Gauge& gauge(const std::string& name, const std::string& help, const std::string& labels = "");
    Histogram& histogram(const std::string& name, const std::string& help,
                         std::vector<double> bounds, const std::string& labels = "");
    // A gauge computed when scraped (queue depth, connected peers).
    void gauge_fn(const std::string& name, const std::string& help, std::function<double()> fn,
                  const std::string& labels = "");
    // A counter computed when scraped, for totals something else keeps (the kernel's CPU time);
    // `fn` must never go down.
    void counter_fn(const std::string& name, const std::string& help, std::function<double()> fn,
                    const std::string& labels = "");

    std::string render() const;

  private:
    struct Series {
        std::string labels;
        Counter* counter = nullptr;
        Gauge* gauge = nullptr;
        Histogram* histogram = nullptr;
        std::function<double()> fn;
    };
    struct Family {
        std::string help, type;
        std::vector<Series> series;
    };
    Family& family(const std::string& name, const std::string& help, const char* type);
    void add_fn(const std::string& name, const std::string& help, const char* type,
                std::function<double()> fn, const std::string& labels);

    std::string scoped(const std::string& labels) const;

    Registry* parent_ = nullptr;  // set in a scope, which holds no series of its own
    std::string scope_labels_;
    mutable std::mutex mu_;
    std::map<std::string, Family> families_;
    std::deque<Counter> counters_;
    std::deque<Gauge> gauges_;
    std::deque<Histogram> histograms_;
};

}  // namespace revalidator::metrics
