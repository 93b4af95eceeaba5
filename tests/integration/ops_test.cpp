// The dashboard (ops/grafana/revalidator.json) and the alerting rules
// (ops/prometheus/revalidator.rules.yml) query only series that a running worker and ingress
// export: a metric renamed or dropped fails here instead of leaving a panel empty or an alert
// silent. The names are read from the two files themselves, so there is no second list to keep.
// And the series the dashboard splits by route and code are split as it expects.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "stack.hpp"

using namespace revalidator::testing;

namespace {

std::string text_of(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// Every metric name of ours in `text`: revalidator_* and the process_* series.
std::set<std::string> metric_names(const std::string& text) {
    static const std::regex name(R"(\b(?:revalidator|process)_[a-z0-9_]+\b)");
    std::set<std::string> out;
    for (std::sregex_iterator it(text.begin(), text.end(), name), end; it != end; ++it) {
        out.insert(it->str());
    }
    return out;
}

// The names of the series in a /metrics page (the part before labels and value).
std::set<std::string> exported(const std::string& page) {
    std::set<std::string> out;
    std::istringstream lines(page);
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line.front() == '#') continue;
        out.insert(line.substr(0, line.find_first_of("{ ")));
    }
    return out;
}

std::string scrape(int port) {
    httplib::Client c("127.0.0.1", port);
    auto r = c.Get("/metrics");
    return r && r->status == 200 ? r->body : "";
}

TEST(Ops, EveryMetricTheDashboardAndTheRulesUseIsExported) {
    Stack s({.reads_from_postgres = true});
    // A little of everything: a webhook and its batch, a row read and a list read.
    ASSERT_EQ(s.webhook(s.webhook_for("UPDATE", "1"))->status, 202);
    ASSERT_TRUE(s.converges("1")) << s.diagnostics();
    httplib::Client reader("127.0.0.1", s.ingress_port());
    ASSERT_TRUE(reader.Get("/articles/1"));
    ASSERT_TRUE(reader.Get("/articles"));

    std::set<std::string> have = exported(scrape(s.worker_admin_port()));
    const auto ingress = exported(scrape(s.ingress_port()));
    have.insert(ingress.begin(), ingress.end());
    ASSERT_GT(have.size(), 50u) << "the scrapes came back empty";

    for (const char* file : {"grafana/revalidator.json", "prometheus/revalidator.rules.yml"}) {
        SCOPED_TRACE(file);
        const auto used = metric_names(text_of(std::string(REVALIDATOR_OPS_DIR) + "/" + file));
        EXPECT_GE(used.size(), 10u) << "too few metric names found: is the file there?";
        for (const auto& name : used) {
            EXPECT_TRUE(have.count(name)) << name << " is used but no process exports it";
        }
    }
}

// Each answer is counted by its route and its status number, probes and scrapes apart from
// webhooks and reads, with no bucket that swallows an unusual code.
TEST(Ops, RequestsAreCountedByRouteAndCode) {
    Stack s;
    const auto count = [&](const std::string& route, int code) {
        return s.ingress_metric("revalidator_ingress_requests_total{route=\"" + route +
                                "\",code=\"" + std::to_string(code) + "\"}");
    };
    const double probes = count("healthz", 200);
    ASSERT_EQ(s.webhook(s.webhook_for("UPDATE", "1"))->status, 202);
    ASSERT_TRUE(s.converges("1")) << s.diagnostics();
    httplib::Client c("127.0.0.1", s.ingress_port());
    ASSERT_EQ(c.Get("/articles/1")->status, 200);
    ASSERT_EQ(c.Get("/articles")->status, 200);
    ASSERT_EQ(c.Get("/nowhere")->status, 404);
    ASSERT_EQ(c.Get("/revalidate")->status, 405);
    ASSERT_EQ(c.Get("/healthz")->status, 200);

    EXPECT_EQ(count("revalidate", 202), 1);
    EXPECT_EQ(count("revalidate", 405), 1) << "a code no route expects still has its series";
    EXPECT_EQ(count("row", 200), 1);
    EXPECT_EQ(count("list", 200), 1);
    EXPECT_EQ(count("other", 404), 1);
    EXPECT_EQ(count("healthz", 200), probes + 1);
    EXPECT_GE(count("metrics", 200), 1) << "the scrapes above are counted apart";
}

}  // namespace
