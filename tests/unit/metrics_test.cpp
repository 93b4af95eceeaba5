// Metrics: the Prometheus text exposition that GET /metrics returns.
#include "runtime/metrics.hpp"

#include <limits>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace revalidator::metrics {
namespace {

TEST(Metrics, ALabelValueIsEscapedAsTheTextFormatSays) {
    EXPECT_EQ(label("collection", "articles"), R"(collection="articles")");
    EXPECT_EQ(label("collection", "a\"b\\c\nd"), R"(collection="a\"b\\c\nd")");
}

TEST(Registry, RendersEveryKindInTheTextFormat) {
    Registry r;
    Counter& accepted = r.counter("http_requests_total", "Requests answered", R"(status="202")");
    Counter& refused = r.counter("http_requests_total", "Requests answered", R"(status="401")");
    accepted.inc(3);
    refused.inc();
    r.gauge("queue_depth", "Events queued").set(2.5);
    r.gauge_fn("connected_peers", "Peers connected", [] { return 4.0; });
    Histogram& h =
        r.histogram("ack_seconds", "Time to ack", {0.1, 0.5, 1}, R"(route="/revalidate")");
    h.observe(0.0625);  // le 0.1
    h.observe(0.5);     // le 0.5: a bound is inclusive
    h.observe(0.75);    // le 1
    h.observe(3);       // only +Inf

    // Families in name order; one HELP and TYPE per family; histogram buckets cumulative.
    EXPECT_EQ(r.render(),
              "# HELP ack_seconds Time to ack\n"
              "# TYPE ack_seconds histogram\n"
              "ack_seconds_bucket{route=\"/revalidate\",le=\"0.1\"} 1\n"
              "ack_seconds_bucket{route=\"/revalidate\",le=\"0.5\"} 2\n"
              "ack_seconds_bucket{route=\"/revalidate\",le=\"1\"} 3\n"
              "ack_seconds_bucket{route=\"/revalidate\",le=\"+Inf\"} 4\n"
              "ack_seconds_sum{route=\"/revalidate\"} 4.3125\n"
              "ack_seconds_count{route=\"/revalidate\"} 4\n"
              "# HELP connected_peers Peers connected\n"
              "# TYPE connected_peers gauge\n"
              "connected_peers 4\n"
              "# HELP http_requests_total Requests answered\n"
              "# TYPE http_requests_total counter\n"
              "http_requests_total{status=\"202\"} 3\n"
              "http_requests_total{status=\"401\"} 1\n"
              "# HELP queue_depth Events queued\n"
              "# TYPE queue_depth gauge\n"
              "queue_depth 2.5\n");
}

TEST(Registry, UnlabelledHistogramAndZeroValues) {
    Registry r;
    r.counter("c_total", "C");
    r.histogram("h", "H", {1, 2});
    EXPECT_EQ(r.render(),
              "# HELP c_total C\n"
              "# TYPE c_total counter\n"
              "c_total 0\n"
              "# HELP h H\n"
              "# TYPE h histogram\n"
              "h_bucket{le=\"1\"} 0\n"
              "h_bucket{le=\"2\"} 0\n"
              "h_bucket{le=\"+Inf\"} 0\n"
              "h_sum 0\n"
              "h_count 0\n");
}

TEST(Registry, GaugeFunctionIsEvaluatedAtEachRender) {
    Registry r;
    double depth = 1;
    r.gauge_fn("depth", "Depth", [&] { return depth; });
    EXPECT_NE(r.render().find("\ndepth 1\n"), std::string::npos);
    depth = 17;
    EXPECT_NE(r.render().find("\ndepth 17\n"), std::string::npos);
}

TEST(Registry, CounterFunctionIsACounterEvaluatedAtEachRender) {
    Registry r;
    double seconds = 0.25;
    Registry scope(r, label("collection", "articles"));
    scope.counter_fn("cpu_seconds_total", "CPU", [&] { return seconds; });
    EXPECT_NE(r.render().find("# TYPE cpu_seconds_total counter\n"
                              "cpu_seconds_total{collection=\"articles\"} 0.25\n"),
              std::string::npos)
        << r.render();
    seconds = 3;
    EXPECT_NE(r.render().find("\ncpu_seconds_total{collection=\"articles\"} 3\n"),
              std::string::npos)
        << r.render();
    EXPECT_THROW(r.gauge_fn("cpu_seconds_total", "CPU", [] { return 0.0; }), std::logic_error);
}

TEST(Registry, AnUnknownValueIsNaNAsTheTextFormatSpellsIt) {
    Registry r;
    r.gauge_fn("g", "G", [] { return std::numeric_limits<double>::quiet_NaN(); });
    EXPECT_NE(r.render().find("\ng NaN\n"), std::string::npos) << r.render();
}

TEST(Registry, ScopesKeepEachTablesSeriesApartInTheOnePage) {
    Registry root;
    Registry articles(root, label("collection", "articles"));
    Registry authors(root, label("collection", "authors"));
    Registry articles_views(articles, R"(view="latest")");
    root.counter("requests_total", "R").inc(1);
    articles.counter("batches_total", "B").inc(2);
    authors.counter("batches_total", "B").inc(3);
    articles_views.gauge("rows", "Rows", R"(part="0")").set(4);
    authors.histogram("seconds", "S", {1}).observe(0.5);
    authors.gauge_fn("active", "A", [] { return 1.0; });

    const std::string page = articles.render();
    EXPECT_EQ(page, root.render()) << "a scope renders the whole page";
    for (const char* line :
         {"\nrequests_total 1\n", "\nbatches_total{collection=\"articles\"} 2\n",
          "\nbatches_total{collection=\"authors\"} 3\n",
          "\nrows{collection=\"articles\",view=\"latest\",part=\"0\"} 4\n",
          "\nseconds_bucket{collection=\"authors\",le=\"1\"} 1\n",
          "\nseconds_count{collection=\"authors\"} 1\n", "\nactive{collection=\"authors\"} 1\n"}) {
        EXPECT_NE(page.find(line), std::string::npos) << line << " missing from\n" << page;
    }
    EXPECT_EQ(page.find("# TYPE batches_total counter"), page.rfind("# TYPE batches_total counter"))
        << "one family, two series";
}

TEST(Registry, GaugeKeepsTheLastValueAndInfinity) {
    Registry r;
    Gauge& g = r.gauge("g", "G");
    g.set(5);
    g.set(-1.5);
    EXPECT_EQ(g.value(), -1.5);
    EXPECT_NE(r.render().find("\ng -1.5\n"), std::string::npos) << r.render();
    g.set(std::numeric_limits<double>::infinity());
    EXPECT_NE(r.render().find("\ng +Inf\n"), std::string::npos) << r.render();
}

TEST(Registry, OneNameCannotHaveTwoTypes) {
    Registry r;
    r.counter("x", "X");
    EXPECT_THROW(r.gauge("x", "X"), std::logic_error);
    EXPECT_THROW(r.histogram("x", "X", {1}), std::logic_error);
    EXPECT_THROW(r.gauge_fn("x", "X", [] { return 0.0; }), std::logic_error);
}

TEST(Registry, SeriesReferencesStayValidAsMoreAreRegistered) {
    Registry r;
    Counter& first = r.counter("first_total", "F");
    for (int i = 0; i < 1000; ++i) r.counter("more_total", "M", "i=\"" + std::to_string(i) + "\"");
    first.inc(7);
    EXPECT_EQ(first.value(), 7u);
    EXPECT_NE(r.render().find("\nfirst_total 7\n"), std::string::npos);
}

TEST(Histogram, CountsSumAndBuckets) {
    Histogram h({1, 10});
    h.observe(0.5);
    h.observe(1);
    h.observe(10);
    h.observe(11);
    h.observe(-2);
    EXPECT_EQ(h.count(), 5u);
    EXPECT_DOUBLE_EQ(h.sum(), 20.5);
    // Per-bucket counts (made cumulative only when rendered).
    EXPECT_EQ(h.bucket(0), 3u);  // -2, 0.5, 1
    EXPECT_EQ(h.bucket(1), 1u);  // 10
    EXPECT_EQ(h.bucket(2), 1u);  // 11: +Inf
}

TEST(Buckets, AreAscending) {
    for (const auto& bounds : {latency_buckets(), size_buckets()}) {
        ASSERT_FALSE(bounds.empty());
        for (std::size_t i = 1; i < bounds.size(); ++i) EXPECT_LT(bounds[i - 1], bounds[i]);
    }
    EXPECT_DOUBLE_EQ(latency_buckets().front(), 0.0001);
    EXPECT_DOUBLE_EQ(latency_buckets().back(), 10);
    EXPECT_DOUBLE_EQ(size_buckets().front(), 1);
    EXPECT_DOUBLE_EQ(size_buckets().back(), 100000);
}

}  // namespace
}  // namespace revalidator::metrics
