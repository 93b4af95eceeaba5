// The Postgres adapter: reads the rows a batch asks for, and every row when the list needs them,
// in one read-only REPEATABLE READ transaction, so that the items and the list written from one
// batch agree with each other. A full read fetches its rows through a cursor in that transaction,
// a run at a time. It keeps no list (list/list.hpp). Postgres renders the JSON
// (to_jsonb), so the cache holds exactly what the webhook's `record` would have held.
// It also answers the anti-entropy pass's questions (anti_entropy.hpp) with digests of rows.
// It connects lazily and again after a broken connection; errors are thrown to the caller.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "config/collection.hpp"
#include "config/table.hpp"
#include "postgres/pg_conninfo.hpp"
#include "repair_sources.hpp"
#include "row_source.hpp"

namespace revalidator::worker {

// Built from the worker's Config (worker_config.hpp), which holds the defaults.
struct PgConfig {
    std::string url;
    Table table;
    std::string order_by;  // empty: the primary key
    PgTimeouts timeouts;
    std::vector<View> views;  // read with every snapshot, in this order (Snapshot::views)
    bool allow_rls = false;   // a role that row-level security filters only warns (rls.hpp)
};

// The role reads the table through row-level security, and --allow-rls was not given (rls.hpp):
// every connection checks, so nothing is read, and nothing is written, until the role changes.
struct RlsRefused : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A view's SQL that Postgres refuses (a filter or column that does not compile): the process's
// configuration is wrong, and retrying cannot help.
struct BadView : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class PgSource final : public RowSource, public DigestSource {
  public:
    explicit PgSource(PgConfig cfg);
    ~PgSource() override;

    // Connects, checks the role against the table's row-level security and has Postgres compile
    // every view's query; throws RlsRefused, BadView naming the view it refuses, or what the
    // connection threw.
    void check();
    Snapshot read(const std::vector<std::string>& pks, bool full, ListRows list) override;
    // Through a cursor in the snapshot's transaction, a run of rows at a time.
    Snapshot read_full(std::size_t run_rows, const RowRun& run) override;
    std::vector<RowDigest> digests(const std::optional<std::string>& after,
                                   std::size_t limit) override;
    std::vector<RowDigest> digests_of(const std::vector<std::string>& pks) override;
    bool spells_key(const std::string& id) override;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace revalidator::worker
