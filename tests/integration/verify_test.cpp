// revalidator-worker --verify on the real binaries: zero on a cache equal to Postgres, one with
// every corruption named (a wrong value, a missing key, a wrong list), and equal again once the
// worker rewrote them. It never writes: the corruption is still there after it ran.
#include <gtest/gtest.h>

#include <string>

#include "stack.hpp"

using namespace revalidator::testing;

namespace {

struct Verified {
    int code;
    std::string out;
};

Verified verify(Stack& s, const std::string& log) {
    const int code = run({WORKER_BIN, "--verify", "--postgres-url", s.postgres().url(),
                          "--memcached", s.memcached_servers(), "--log-level", "warn"},
                         log);
    return {code, read_file(log)};
}

}  // namespace

TEST(Verify, NamesEveryCorruptionAndWritesNothing) {
    // The worker's own anti-entropy pass would heal the corruption before --verify sees it.
    Stack s({.worker_args = {"--verify-rate", "0"}});
    for (const char* id : {"1", "2", "3", "4", "5"}) ASSERT_TRUE(s.converges(id));
    TempDir dir;

    auto clean = verify(s, dir.path() + "/clean.log");
    EXPECT_EQ(clean.code, 0) << clean.out;
    EXPECT_NE(clean.out.find("5 rows, 5 keys compared: 0 wrong, 0 missing, 0 unreadable; 0 extra "
                             "keys; list equal"),
              std::string::npos)
        << clean.out;

    s.cache_set("/articles/2", R"({"id": 2, "title": "restored from last week"})");
    s.cache_delete("/articles/4");
    s.cache_set("/articles", "[]");
    s.cache_set("/articles/99999", R"({"id": 99999, "title": "deleted long ago"})");
    auto bad = verify(s, dir.path() + "/bad.log");
    EXPECT_EQ(bad.code, 1) << bad.out;
    for (const char* named :
         {"1 wrong, 1 missing", "1 extra keys", "list wrong", "wrong /articles/2",
          "missing /articles/4", "extra /articles/99999", "wrong /articles\n"}) {
        EXPECT_NE(bad.out.find(named), std::string::npos) << named << " in:\n" << bad.out;
    }
    EXPECT_EQ(s.cache_get("/articles/2"), R"({"id": 2, "title": "restored from last week"})")
        << "verify writes nothing";
    EXPECT_FALSE(s.cache_get("/articles/4"));

    for (const char* id : {"2", "4"})
        ASSERT_EQ(s.webhook(s.webhook_for("UPDATE", id))->status, 202);
    ASSERT_TRUE(s.converges("2"));
    ASSERT_TRUE(s.converges("4"));
    s.cache_delete("/articles/99999");
    auto healed = verify(s, dir.path() + "/healed.log");
    EXPECT_EQ(healed.code, 0) << healed.out;
}

TEST(Verify, ACacheThatCannotBeReadIsExit2) {
    Stack s;
    ASSERT_TRUE(s.converges("1"));
    s.memcached().stop();
    TempDir dir;
    auto r = verify(s, dir.path() + "/down.log");
    EXPECT_EQ(r.code, 2) << r.out;
    s.memcached().start();
}
