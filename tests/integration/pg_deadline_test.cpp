// libpq with a deadline on every wait (shared/postgres/pg_deadline.hpp), against a real Postgres:
// an answer, an error the server reports (the connection still works), and a frozen server that
// costs the deadline, connecting or querying, never a hung caller.
#include "postgres/pg_deadline.hpp"

#include <libpq-fe.h>

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "postgres/pg_conninfo.hpp"
#include "servers.hpp"

using namespace revalidator;
using namespace revalidator::testing;
using namespace std::chrono_literals;

namespace {

std::string value_of(const pg::Answer& a) {
    return PQntuples(a.get()) == 1 ? PQgetvalue(a.get(), 0, 0) : "";
}

// `call`, given a deadline 300 ms away, fails with `error` at that deadline: not before, and not
// long after.
struct Postgres {
    TempDir dir;
    PostgresServer server{dir.path()};
    std::string conninfo = pg_conninfo(server.url(), {});
};

template <class Call>
void gives_up_at_the_deadline(Call call, const std::string& error) {
    const auto start = pg::Clock::now();
    auto got = call(start + 300ms);
    const auto took = pg::Clock::now() - start;
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error(), error);
    EXPECT_GE(took, 300ms);
    EXPECT_LT(took, 2s);
}

}  // namespace

TEST(PgDeadline, AnswersAndTheServersErrorsLeaveTheConnectionWorking) {
    Postgres db;
    auto c = pg::connect(db.conninfo, pg::Clock::now() + 10s);
    ASSERT_TRUE(c) << c.error();

    auto sum = pg::exec(c->get(), "SELECT $1::int + $2::int", {"40", "2"}, pg::Clock::now() + 5s);
    ASSERT_TRUE(sum) << sum.error();
    EXPECT_EQ(PQresultStatus(sum->get()), PGRES_TUPLES_OK);
    EXPECT_EQ(value_of(*sum), "42");

    auto refused = pg::exec(c->get(), "SELECT 1 / 0", {}, pg::Clock::now() + 5s);
    ASSERT_TRUE(refused) << "the server's error is an answer: " << refused.error();
    const char* state = PQresultErrorField(refused->get(), PG_DIAG_SQLSTATE);
    ASSERT_NE(state, nullptr);
    EXPECT_EQ(std::string(state), "22012");
    EXPECT_NE(pg::message_of(refused->get()).find("division by zero"), std::string::npos);
    EXPECT_NE(pg::message_of(refused->get()).back(), '\n');
    EXPECT_EQ(pg::message_of(sum->get()), "") << "no error in an answer";

    auto again = pg::exec(c->get(), "SELECT 'still here'", {}, pg::Clock::now() + 5s);
    ASSERT_TRUE(again) << again.error();
    EXPECT_EQ(value_of(*again), "still here");
}

TEST(PgDeadline, AFrozenServerCostsTheDeadlineNotAHang) {
    Postgres db;
    auto c = pg::connect(db.conninfo, pg::Clock::now() + 10s);
    ASSERT_TRUE(c) << c.error();

    db.server.freeze();
    gives_up_at_the_deadline(
        [&](auto deadline) { return pg::exec(c->get(), "SELECT 1", {}, deadline); },
        "timed out waiting for the answer");
    gives_up_at_the_deadline([&](auto deadline) { return pg::connect(db.conninfo, deadline); },
                             "connect timed out");
    db.server.thaw();

    auto fresh = pg::connect(db.conninfo, pg::Clock::now() + 10s);
    ASSERT_TRUE(fresh) << "a new connection works once the server runs: " << fresh.error();
    auto one = pg::exec(fresh->get(), "SELECT 1", {}, pg::Clock::now() + 5s);
    ASSERT_TRUE(one) << one.error();
    EXPECT_EQ(value_of(*one), "1");
}

TEST(PgDeadline, AServerThatIsGoneIsAnErrorAtOnce) {
    Postgres db;
    db.server.stop();
    const auto start = pg::Clock::now();
    auto c = pg::connect(db.conninfo, start + 10s);
    EXPECT_FALSE(c);
    if (!c) {
        EXPECT_NE(c.error().find("refused"), std::string::npos) << c.error();
    }
    EXPECT_LT(pg::Clock::now() - start, 2s);
}
