// The process series: /proc's files parsed from samples (so without /proc), and the series as a
// registry renders them.
#include "runtime/process_metrics.hpp"

#include <gtest/gtest.h>

#include <ctime>
#include <limits>
#include <string>

#include "runtime/build_info.hpp"

namespace revalidator::metrics {
namespace {

// A real line of /proc/[pid]/stat, its fields numbered from 1: utime (14) 250, stime (15) 130,
// starttime (22) 3286994.
constexpr const char* kStat =
    "27187 (revalidator-wor) S 27183 27183 19303 0 -1 4194304 104 0 0 0 250 130 0 0 20 0 9 0 "
    "3286994 3133440 416 18446744073709551615 94474716766208 94474716786089 140726613041024 0 0 "
    "0 0 0 0 0 0 0 17 0 0 0 0 0 0 94474716802096 94474716803712 94475088351232 140726613047931 "
    "140726613047951 140726613047951 140726613049323 0\n";

TEST(ProcStat, ReadsCpuTimesAndStartInTicks) {
    const auto s = parse_proc_stat(kStat);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->utime, 250U);
    EXPECT_EQ(s->stime, 130U);
    EXPECT_EQ(s->starttime, 3286994U);
    EXPECT_DOUBLE_EQ(cpu_seconds(*s, 100), 3.8);
    EXPECT_DOUBLE_EQ(start_time_seconds(*s, 1796652254, 100), 1796652254 + 32869.94);
}

TEST(ProcStat, ACommandNameWithSpacesAndParenthesesDoesNotShiftTheFields) {
    std::string line = kStat;
    line.replace(line.find("(revalidator-wor)"), 17, "(a) b (c) 1 2)");
    const auto s = parse_proc_stat(line);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->utime, 250U);
    EXPECT_EQ(s->stime, 130U);
    EXPECT_EQ(s->starttime, 3286994U);
}

TEST(ProcStat, ATruncatedOrMalformedLineIsRefused) {
    const std::string line = kStat;
    EXPECT_FALSE(parse_proc_stat(""));
    EXPECT_FALSE(parse_proc_stat("27187 revalidator S 1 2 3"));            // no name in parentheses
    EXPECT_FALSE(parse_proc_stat(line.substr(0, line.find(" 3286994"))));  // ends before starttime
    std::string bad = line;
    bad.replace(bad.find(" 250 "), 5, " 2x0 ");
    EXPECT_FALSE(parse_proc_stat(bad));
    bad = line;
    bad.replace(bad.find(" 130 "), 5, " -13 ");
    EXPECT_FALSE(parse_proc_stat(bad));
}

TEST(Statm, ReadsTheResidentPages) {
    EXPECT_EQ(parse_statm_resident_pages("765 422 394 5 0 123 0\n"), 422U);
    EXPECT_FALSE(parse_statm_resident_pages("765\n"));
    EXPECT_FALSE(parse_statm_resident_pages(""));
    EXPECT_FALSE(parse_statm_resident_pages("765 many 394\n"));
}

TEST(BootTime, ReadsTheBtimeLineWhereverItIs) {
    const char* proc_stat =
        "cpu  1 2 3 4 5 6 7 0 0 0\n"
        "cpu0 1 2 3 4 5 6 7 0 0 0\n"
        "intr 12345 0 0\n"
        "ctxt 98765\n"
        "btime 1796652254\n"
        "processes 27200\n";
    EXPECT_EQ(parse_boot_time(proc_stat), 1796652254U);
    EXPECT_EQ(parse_boot_time("btime 17"), 17U);  // the last line, without its newline
    EXPECT_FALSE(parse_boot_time("cpu 1 2 3\nctxt 5\n"));
    EXPECT_FALSE(parse_boot_time("btimes 5\n"));
    EXPECT_FALSE(parse_boot_time("btime soon\n"));
}

// The value after "\n<series> " in `page`, or NaN when the series is absent.
double value_of(const std::string& page, const std::string& series) {
    const auto at = page.find("\n" + series + " ");
    if (at == std::string::npos) return std::numeric_limits<double>::quiet_NaN();
    return std::stod(page.substr(at + series.size() + 2));
}

// On this machine's /proc: every series is there, with its type, and plausible.
TEST(ProcessMetrics, EverySeriesIsRegisteredWithItsType) {
    Registry r;
    add_process_metrics(r);
    const std::string page = r.render();
    for (const char* type :
         {"# TYPE process_cpu_seconds_total counter\n",
          "# TYPE process_resident_memory_bytes gauge\n", "# TYPE process_open_fds gauge\n",
          "# TYPE process_max_fds gauge\n", "# TYPE process_start_time_seconds gauge\n",
          "# TYPE revalidator_build_info gauge\n"}) {
        EXPECT_NE(page.find(type), std::string::npos) << type << "missing from\n" << page;
    }
    const std::string build = "revalidator_build_info{version=\"" +
                              std::string(build_info::version()) + "\",commit=\"" +
                              std::string(build_info::commit()) + "\"}";
    EXPECT_EQ(value_of(page, build), 1) << page;
    EXPECT_GE(value_of(page, "process_cpu_seconds_total"), 0) << page;
    EXPECT_GT(value_of(page, "process_resident_memory_bytes"), 1 << 20) << page;
    EXPECT_GE(value_of(page, "process_open_fds"), 3) << page;  // at least stdin, stdout, stderr
    EXPECT_GE(value_of(page, "process_max_fds"), value_of(page, "process_open_fds")) << page;
    const double now = static_cast<double>(std::time(nullptr));
    const double start = value_of(page, "process_start_time_seconds");
    // This test process started before the test, and not days before.
    EXPECT_LE(start, now + 1) << page;
    EXPECT_GT(start, now - 86400) << page;
}

}  // namespace
}  // namespace revalidator::metrics
