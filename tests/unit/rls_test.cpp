// decide_rls: when row-level security filters what the worker's role reads, as Postgres decides
// it (docs/supabase.md, "Row-level security"), and what the worker does about it.
#include "rls.hpp"

#include <gtest/gtest.h>

namespace revalidator::worker {
namespace {

using Verdict = RlsDecision::Verdict;

RlsFacts enabled_for(std::string role) {
    return {.role = std::move(role), .enabled = true};
}

TEST(Rls, AppliesOnlyWhereThePoliciesFilterTheRole) {
    EXPECT_FALSE(rls_applies({.role = "r"})) << "row-level security off";
    EXPECT_FALSE(rls_applies({.role = "r", .forced = true})) << "forced but not enabled";
    EXPECT_TRUE(rls_applies(enabled_for("r")));

    RlsFacts f = enabled_for("r");
    f.bypassrls = true;
    EXPECT_FALSE(rls_applies(f)) << "BYPASSRLS";
    f = enabled_for("r");
    f.superuser = true;
    f.forced = true;
    EXPECT_FALSE(rls_applies(f)) << "a superuser, forced or not";
    f = enabled_for("r");
    f.owner = true;
    EXPECT_FALSE(rls_applies(f)) << "the owner, not forced";
    f.forced = true;
    EXPECT_TRUE(rls_applies(f)) << "the owner, forced";
    f.bypassrls = true;
    EXPECT_FALSE(rls_applies(f)) << "the owner, forced, with BYPASSRLS";
}

TEST(Rls, ARoleThatReadsEveryRowNeedsNothing) {
    RlsFacts f = enabled_for("revalidator");
    f.bypassrls = true;
    for (bool allowed : {false, true}) {
        const RlsDecision d = decide_rls(f, "public.articles", allowed);
        EXPECT_EQ(d.verdict, Verdict::Reads);
        EXPECT_EQ(d.message, "");
    }
}

TEST(Rls, AFilteredRoleIsRefusedWithTheTableAndTheFix) {
    const RlsDecision d = decide_rls(enabled_for("reader"), "public.articles", false);
    EXPECT_EQ(d.verdict, Verdict::Refuse);
    for (const char* part : {"public.articles", "\"reader\"", "lacks BYPASSRLS",
                             "ALTER ROLE \"reader\" BYPASSRLS", "--allow-rls"}) {
        EXPECT_NE(d.message.find(part), std::string::npos) << part << " in: " << d.message;
    }
}

TEST(Rls, AForcedOwnerIsToldItIsTheOwner) {
    RlsFacts f = enabled_for("owner");
    f.owner = true;
    f.forced = true;
    const RlsDecision d = decide_rls(f, "public.articles", false);
    EXPECT_EQ(d.verdict, Verdict::Refuse);
    EXPECT_NE(d.message.find("forced on its owner"), std::string::npos) << d.message;
}

TEST(Rls, AllowRlsTurnsTheRefusalIntoAWarning) {
    const RlsDecision d = decide_rls(enabled_for("reader"), "public.articles", true);
    EXPECT_EQ(d.verdict, Verdict::Warn);
    EXPECT_NE(d.message.find("public.articles"), std::string::npos) << d.message;
    EXPECT_NE(d.message.find("--allow-rls"), std::string::npos) << d.message;
}

}  // namespace
}  // namespace revalidator::worker
