#include <gtest/gtest.h>

#include "metrics_page.hpp"

TEST(MetricsPage, SumsSeriesAcrossLabels) {
    loadgen::MetricsPage p(
        "# HELP revalidator_ingress_requests_total HTTP responses by status\n"
        "# TYPE revalidator_ingress_requests_total counter\n"
        "revalidator_ingress_requests_total{status=\"202\"} 10\n"
        "revalidator_ingress_requests_total{status=\"4 0 1\"} 2\n"
        "revalidator_worker_pending_keys 0\n"
        "revalidator_worker_list_rebuild_seconds_sum 1.5e-3\n");
    EXPECT_EQ(p.value("revalidator_ingress_requests_total"), 12);
    EXPECT_EQ(p.value("revalidator_worker_pending_keys"), 0);
    EXPECT_DOUBLE_EQ(*p.value("revalidator_worker_list_rebuild_seconds_sum"), 0.0015);
    EXPECT_FALSE(p.value("absent"));
}
