#include "rls.hpp"

namespace revalidator::worker {

bool rls_applies(const RlsFacts& f) {
    if (!f.enabled || f.superuser || f.bypassrls) return false;
    return !f.owner || f.forced;
}

RlsDecision decide_rls(const RlsFacts& f, const std::string& table, bool allowed) {
    if (!rls_applies(f)) return {};
    const std::string why =
        "row-level security is enabled on " + table + (f.owner ? " and forced on its owner" : "") +
        ", and the worker's role \"" + f.role + "\" is " +
        (f.owner ? "its owner" : "neither its owner") + (f.owner ? "" : " nor a superuser") +
        " and lacks BYPASSRLS: the worker would see only "
        "the rows the policies let through, and its repair pass would delete the others from the "
        "cache";
    if (allowed) {
        return {RlsDecision::Verdict::Warn,
                why +
                    " (started with --allow-rls: the cache holds what the policies show this "
                    "role)"};
    }
    return {RlsDecision::Verdict::Refuse,
            why + ". Connect as a role that bypasses it (ALTER ROLE \"" + f.role +
                "\" BYPASSRLS, docs/supabase.md), or start with --allow-rls if the cache is meant "
                "to hold only what the policies show this role"};
}

}  // namespace revalidator::worker
