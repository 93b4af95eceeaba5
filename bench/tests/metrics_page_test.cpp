#include <gtest/gtest.h>

#include "metrics_page.hpp"

TEST(MetricsPage, SumsSeriesAcrossLabels) {
    loadgen::MetricsPage p(
        "# HELP revalidator_ingress_requests_total HTTP responses by route and status\n"
        "# TYPE revalidator_ingress_requests_total counter\n"
        "revalidator_ingress_requests_total{route=\"revalidate\",code=\"202\"} 10\n"
        "revalidator_ingress_requests_total{route=\"a \\\"b\\\" c\",code=\"401\"} 2\n"
        "revalidator_worker_pending_keys{collection=\"articles\"} 0\n"
        "revalidator_worker_list_rebuild_seconds_sum{collection=\"articles\"} 1.5e-3\n");
    EXPECT_EQ(p.value("revalidator_ingress_requests_total"), 12);
    EXPECT_EQ(p.value("revalidator_worker_pending_keys"), 0);
    EXPECT_DOUBLE_EQ(*p.value("revalidator_worker_list_rebuild_seconds_sum"), 0.0015);
    EXPECT_FALSE(p.value("absent"));
}

TEST(MetricsPage, SumsTheSeriesThatHaveTheLabelsNamed) {
    loadgen::MetricsPage p(
        "revalidator_worker_divergences_total{collection=\"articles\",kind=\"wrong\"} 3\n"
        "revalidator_worker_divergences_total{collection=\"authors\",kind=\"wrong\"} 4\n"
        "revalidator_worker_divergences_total{collection=\"authors\",kind=\"missing\"} 5\n"
        "revalidator_worker_batches_total 7\n");
    EXPECT_EQ(p.value("revalidator_worker_divergences_total{kind=\"wrong\"}"), 7);
    EXPECT_EQ(p.value("revalidator_worker_divergences_total{collection=\"authors\"}"), 9);
    EXPECT_EQ(
        p.value("revalidator_worker_divergences_total{collection=\"authors\",kind=\"missing\"}"),
        5);
    EXPECT_FALSE(p.value("revalidator_worker_divergences_total{kind=\"list\"}"));
    EXPECT_EQ(p.value("revalidator_worker_batches_total"), 7);
}
