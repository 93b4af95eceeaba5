// Row-level security and the worker's role. A role that row-level security applies to reads a
// filtered table: the worker would cache only the rows its policies let through, and the
// anti-entropy pass would "heal" the cache to that filtered view (deleting the keys of every row it
// cannot see). So the worker refuses a served table that filters rows for its role, unless told
// that this is meant (--allow-rls), and then warns each time it connects (docs/supabase.md,
// "Row-level security"). Pure logic: the Postgres adapter (pg_source.cpp) gathers the facts.
#pragma once

#include <string>

namespace revalidator::worker {

// What Postgres says about one table and the role the worker connected as.
struct RlsFacts {
    std::string role;      // current_user
    bool enabled = false;  // pg_class.relrowsecurity: ENABLE ROW LEVEL SECURITY
    bool forced = false;   // pg_class.relforcerowsecurity: FORCE ROW LEVEL SECURITY
    bool owner = false;    // the role has the privileges of the table's owner
    bool superuser = false;
    bool bypassrls = false;  // BYPASSRLS
};

// Whether the policies filter what the role reads, as Postgres decides it: never without
// row-level security on the table, never for a superuser or a BYPASSRLS role, and not for the
// table's owner unless the table forces it on its owner too.
bool rls_applies(const RlsFacts& facts);

struct RlsDecision {
    enum class Verdict { Reads, Warn, Refuse } verdict = Verdict::Reads;
    std::string message;  // empty when the role reads every row
};

// `table` is the table's qualified name, for the message; `allowed` is --allow-rls.
RlsDecision decide_rls(const RlsFacts& facts, const std::string& table, bool allowed);

}  // namespace revalidator::worker
