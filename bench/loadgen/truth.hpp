// The source of truth for the e2e and worker modes: the watched table in Postgres, via libpqxx.
// It changes rows the way an application would (UPDATE ... SET version = version + 1) and reads
// what the cache must equal with the same SQL the worker documents: each row as
// to_jsonb(row)::text and the list as jsonb_agg(... ORDER BY ...)::text, so that the comparison
// with Memcached is byte for byte.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

namespace loadgen {

struct TableSpec {
    std::string schema = "public";
    std::string table = "articles";
    std::string key = "id";        // primary key column
    std::string bump = "version";  // integer column that UPDATEs increment
    std::string order;             // the list's ORDER BY over alias t; empty: the primary key
    std::string prefix = "/articles";
    // Or all but `bump` from a collection of a revalidator config file (--config, --collection).
    std::string config;
    std::string collection;
};

// --schema, --table, --primary-key, --bump-column, --list-order, --prefix; or --config and
// --collection, which take the table, key, prefix and order from the file's [[collection]] of
// that name, as the ingress and the worker read it (docs/configuration.md, "Collections").
void add_table_options(CLI::App& cmd, TableSpec& spec);

struct Change {
    std::string id;
    std::string json;      // the row after the change, as to_jsonb renders it
    std::string old_json;  // before
    // Postgres' clock_timestamp() in the statement (microseconds since the epoch; 0 where not
    // asked for): the commit's time, a little early, as the database tells it.
    std::int64_t committed_us = 0;
};

class Truth {
  public:
    // Connects and looks up the primary key's type; throws when the table or column is missing.
    Truth(const std::string& url, TableSpec spec);
    ~Truth();

    std::size_t count();
    std::vector<std::string> all_ids();
    std::vector<std::string> random_ids(std::size_t n);  // distinct, in random order
    // Increments the bump column of every row in `ids`, in one statement and transaction.
    std::vector<Change> bump(const std::vector<std::string>& ids);
    // A new row with `column` set to `value` and every other column its default; nullopt when
    // the insert returns nothing.
    std::optional<Change> insert(const std::string& column, const std::string& value);
    // Deletes row `id`; nullopt when there was none. `json` is empty, `old_json` the row.
    std::optional<Change> remove(const std::string& id);
    std::string row(const std::string& id);  // "" when there is no such row
    std::string list();

    struct Snapshot {
        std::vector<std::pair<std::string, std::string>> rows;  // (id, to_jsonb text)
        std::string list;
    };
    // Every row and the list, from one REPEATABLE READ transaction.
    Snapshot snapshot();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace loadgen
