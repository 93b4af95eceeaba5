#include "metrics.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace revalidator::metrics {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
    for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::observe(double v) {
    std::size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    double old = sum_.load(std::memory_order_relaxed);
    while (!sum_.compare_exchange_weak(old, old + v, std::memory_order_relaxed)) {
    }
}

std::string label(std::string_view name, std::string_view value) {
    std::string out(name);
    out += "=\"";
    for (char c : value) {
        if (c == '\\' || c == '"') out += '\\';
        out += c == '\n' ? std::string("\\n") : std::string(1, c);
    }
    return out + "\"";
}

std::vector<double> latency_buckets() {
    return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
            0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

std::vector<double> size_buckets() {
    return {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000};
}

Registry::Family& Registry::family(const std::string& name, const std::string& help,
                                   const char* type) {
    auto [it, inserted] = families_.try_emplace(name, Family{help, type, {}});
    if (!inserted && it->second.type != type) {
        throw std::logic_error("metric " + name + " registered with two types");
    }
    return it->second;
}

Registry::Registry(Registry& parent, std::string labels)
    : parent_(parent.parent_ ? parent.parent_ : &parent), scope_labels_(parent.scoped(labels)) {}

std::string Registry::scoped(const std::string& labels) const {
    if (scope_labels_.empty()) return labels;
    if (labels.empty()) return scope_labels_;
    return scope_labels_ + "," + labels;
}

Counter& Registry::counter(const std::string& name, const std::string& help,
                           const std::string& labels) {
    if (parent_) return parent_->counter(name, help, scoped(labels));
    std::lock_guard lock(mu_);
    Counter& c = counters_.emplace_back();
    family(name, help, "counter").series.push_back({labels, &c, nullptr, nullptr, {}});
    return c;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help,
                       const std::string& labels) {
    if (parent_) return parent_->gauge(name, help, scoped(labels));
    std::lock_guard lock(mu_);
    Gauge& g = gauges_.emplace_back();
    family(name, help, "gauge").series.push_back({labels, nullptr, &g, nullptr, {}});
    return g;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help,
                               std::vector<double> bounds, const std::string& labels) {
    if (parent_) return parent_->histogram(name, help, std::move(bounds), scoped(labels));
    std::lock_guard lock(mu_);
    Histogram& h = histograms_.emplace_back(std::move(bounds));
    family(name, help, "histogram").series.push_back({labels, nullptr, nullptr, &h, {}});
    return h;
}

void Registry::add_fn(const std::string& name, const std::string& help, const char* type,
                      std::function<double()> fn, const std::string& labels) {
    if (parent_) return parent_->add_fn(name, help, type, std::move(fn), scoped(labels));
    std::lock_guard lock(mu_);
    family(name, help, type).series.push_back({labels, nullptr, nullptr, nullptr, std::move(fn)});
}

void Registry::gauge_fn(const std::string& name, const std::string& help,
                        std::function<double()> fn, const std::string& labels) {
    add_fn(name, help, "gauge", std::move(fn), labels);
}

void Registry::counter_fn(const std::string& name, const std::string& help,
                          std::function<double()> fn, const std::string& labels) {
    add_fn(name, help, "counter", std::move(fn), labels);
}

namespace {

std::string number(double v) {
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (std::isnan(v)) return "NaN";
    return fmt::format("{}", v);
}

std::string braced(const std::string& labels, const std::string& extra = "") {
    std::string all = labels;
    if (!extra.empty()) all += (all.empty() ? "" : ",") + extra;
    return all.empty() ? "" : "{" + all + "}";
}

}  // namespace

std::string Registry::render() const {
    if (parent_) return parent_->render();
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& [name, f] : families_) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, f.type);
        for (const auto& s : f.series) {
            if (s.counter) {
                out += fmt::format("{}{} {}\n", name, braced(s.labels), s.counter->value());
            } else if (s.gauge) {
                out += fmt::format("{}{} {}\n", name, braced(s.labels), number(s.gauge->value()));
            } else if (s.fn) {
                out += fmt::format("{}{} {}\n", name, braced(s.labels), number(s.fn()));
            } else {
                const Histogram& h = *s.histogram;
                std::uint64_t cumulative = 0;
                for (std::size_t i = 0; i <= h.bounds().size(); ++i) {
                    cumulative += h.bucket(i);
                    std::string le = i < h.bounds().size() ? number(h.bounds()[i]) : "+Inf";
                    out += fmt::format("{}_bucket{} {}\n", name,
                                       braced(s.labels, "le=\"" + le + "\""), cumulative);
                }
                out += fmt::format("{}_sum{} {}\n", name, braced(s.labels), number(h.sum()));
                out += fmt::format("{}_count{} {}\n", name, braced(s.labels), h.count());
            }
        }
    }
    return out;
}

}  // namespace revalidator::metrics
