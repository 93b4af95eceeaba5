// The time bounds added to every Postgres connection string (shared/postgres/pg_conninfo.hpp).
#include "postgres/pg_conninfo.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace revalidator {
namespace {

using namespace std::chrono_literals;

TEST(PgConninfo, AddsClientAndServerTimeBoundsToAUrl) {
    std::string c = pg_conninfo("postgresql://app@db.example:6543/site",
                                {.network = 6000ms, .statement = 2500ms, .idle_session = 4000ms});
    for (const char* part :
         {"host='db.example'", "port='6543'", "user='app'", "dbname='site'", "connect_timeout='6'",
          "keepalives='1'", "keepalives_idle='3'", "keepalives_interval='1'",
          "keepalives_count='3'", "tcp_user_timeout='6000'"}) {
        EXPECT_NE(c.find(part), std::string::npos) << part << " in " << c;
    }
    for (const char* guc : {"-c tcp_keepalives_idle=3", "-c tcp_user_timeout=6000",
                            "-c statement_timeout=2500", "-c idle_session_timeout=4000"}) {
        EXPECT_NE(c.find(guc), std::string::npos) << guc << " in " << c;
    }
}

// libpq takes whole seconds, and less than 2 as 2: a connect bounded on our side by the same
// rule (the ingress's reads) keeps the bound the documentation gives.
TEST(PgConninfo, TheConnectTimeoutIsWholeSecondsAndAtLeastTwo) {
    EXPECT_EQ(pg_connect_timeout(1000ms), 2s);
    EXPECT_EQ(pg_connect_timeout(1ms), 2s);
    EXPECT_EQ(pg_connect_timeout(2001ms), 3s);
    EXPECT_EQ(pg_connect_timeout(6000ms), 6s);
    EXPECT_NE(pg_conninfo("host=h", {.network = 2001ms}).find("connect_timeout='3'"),
              std::string::npos);
}

TEST(PgConninfo, ZeroLeavesStatementAndIdleTimeoutsOff) {
    std::string c = pg_conninfo("host=localhost", {.statement = 0ms, .idle_session = 0ms});
    EXPECT_EQ(c.find("statement_timeout"), std::string::npos) << c;
    EXPECT_EQ(c.find("idle_session_timeout"), std::string::npos) << c;
    EXPECT_NE(c.find("tcp_user_timeout='10000'"), std::string::npos) << c;
}

TEST(PgConninfo, TheOperatorsSettingsWin) {
    std::string c = pg_conninfo(
        "postgresql://h/d?connect_timeout=30&keepalives=0&options=-c%20statement_timeout%3D9",
        {.statement = 2500ms});
    EXPECT_NE(c.find("connect_timeout='30'"), std::string::npos) << c;
    EXPECT_NE(c.find("keepalives='0'"), std::string::npos) << c;
    // Both are sent; Postgres takes the last -c, the operator's.
    auto ours = c.find("-c statement_timeout=2500"), theirs = c.find("-c statement_timeout=9");
    ASSERT_NE(theirs, std::string::npos) << c;
    EXPECT_LT(ours, theirs) << c;
}

TEST(PgConninfo, ValuesAreQuotedForLibpq) {
    std::string c = pg_conninfo("host=h password='it\\'s\\\\x'", {});
    EXPECT_NE(c.find(R"(password='it\'s\\x')"), std::string::npos) << c;
}

TEST(PgConninfo, AnUnparsableUrlIsAClearError) {
    try {
        pg_conninfo("postgresql://h/d?nonsense_option=1", {});
        FAIL() << "accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("nonsense_option"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace revalidator
