#include "truth.hpp"

#include <stdexcept>

#include <toml++/toml.h>
#include <pqxx/pqxx>

#include "config/collection_file.hpp"
#include "postgres/sql.hpp"

namespace loadgen {

void add_table_options(CLI::App& cmd, TableSpec& spec) {
    const std::vector<CLI::Option*> replaced{
        cmd.add_option("--schema", spec.schema, "schema of the watched table")
            ->capture_default_str(),
        cmd.add_option("--table", spec.table, "the watched table")->capture_default_str(),
        cmd.add_option("--primary-key", spec.key, "its primary key column")->capture_default_str(),
        cmd.add_option("--list-order", spec.order,
                       "the list's ORDER BY over alias t, as the worker's --order-by renders it "
                       "(default: t.<primary key>)"),
        cmd.add_option("--prefix", spec.prefix, "the worker's cache key prefix")
            ->capture_default_str()};
    cmd.add_option("--bump-column", spec.bump, "integer column incremented to change a row")
        ->capture_default_str();
    auto* file = cmd.add_option("--config", spec.config,
                                "a revalidator config file that declares [[collection]] tables");
    auto* collection =
        cmd.add_option("--collection", spec.collection,
                       "drive this collection of --config: its table, key, prefix and list order "
                       "replace --schema, --table, --primary-key, --list-order and --prefix")
            ->needs(file);
    for (auto* opt : replaced) collection->excludes(opt);
    cmd.parse_complete_callback([&spec] {
        if (spec.collection.empty()) return;
        auto problem = [&](const std::string& what) {
            throw CLI::ValidationError("--collection", spec.config + ": " + what);
        };
        toml::table file;
        try {
            file = toml::parse_file(spec.config);
        } catch (const toml::parse_error& e) {
            problem(std::string(e.description()));
        }
        std::vector<revalidator::Collection> collections;
        if (const auto* declared = file.get("collection")) {
            auto problems =
                revalidator::config::read_collections(*declared, spec.config, collections);
            if (!problems.empty()) problem(problems.front().message);
        }
        for (const auto& c : collections) {
            if (c.name != spec.collection) continue;
            const auto& t = c.table;
            spec.schema = t.schema;
            spec.table = t.name;
            spec.key = t.primary_key;
            spec.prefix = t.prefix;
            auto order = revalidator::sql::order_by(c.order_by.empty() ? t.primary_key : c.order_by,
                                                    t.primary_key);
            if (!order) problem(order.error());
            spec.order = *order;
            return;
        }
        problem("declares no collection \"" + spec.collection + "\"");
    });
}

using revalidator::sql::quote_ident;
using revalidator::sql::text_array;

struct Truth::Impl {
    TableSpec spec;
    pqxx::connection conn;
    std::string rel, key, key_type, list_sql;

    Impl(const std::string& url, TableSpec s) : spec(std::move(s)), conn(url) {
        rel = quote_ident(spec.schema) + "." + quote_ident(spec.table);
        key = quote_ident(spec.key);
        pqxx::nontransaction tx(conn);
        auto r = tx.exec_params(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped",
            rel, spec.key);
        if (r.empty()) {
            throw std::runtime_error("table " + rel + " with column " + spec.key + " not found");
        }
        key_type = r[0][0].as<std::string>();
        std::string order = spec.order.empty() ? "t." + key : spec.order;
        // The rows in list order, joined here as the worker joins them: jsonb_agg's text, which
        // Postgres refuses past 256 MB (a million rows of 600 bytes).
        list_sql = "SELECT to_jsonb(t)::text FROM " + rel + " t ORDER BY " + order;
    }

    template <typename Tx>
    std::string list(Tx& tx) const {
        std::string text = "[";
        for (const auto& row : tx.exec(list_sql)) {
            if (text.size() > 1) text += ", ";
            text += row[0].c_str();
        }
        return text + "]";
    }
};

Truth::Truth(const std::string& url, TableSpec spec)
    : impl_(std::make_unique<Impl>(url, std::move(spec))) {}

Truth::~Truth() = default;

std::size_t Truth::count() {
    pqxx::nontransaction tx(impl_->conn);
    return tx.exec("SELECT count(*) FROM " + impl_->rel)[0][0].as<std::size_t>();
}

std::vector<std::string> Truth::all_ids() {
    pqxx::nontransaction tx(impl_->conn);
    std::vector<std::string> ids;
    for (const auto& row : tx.exec("SELECT " + impl_->key + "::text FROM " + impl_->rel))
        ids.emplace_back(row[0].c_str());
    return ids;
}

std::vector<std::string> Truth::random_ids(std::size_t n) {
    pqxx::nontransaction tx(impl_->conn);
    std::vector<std::string> ids;
    auto r = tx.exec_params(
        "SELECT " + impl_->key + "::text FROM " + impl_->rel + " ORDER BY random() LIMIT $1", n);
    for (const auto& row : r) ids.emplace_back(row[0].c_str());
    return ids;
}

std::vector<Change> Truth::bump(const std::vector<std::string>& ids) {
    const auto& m = *impl_;
    std::string col = quote_ident(m.spec.bump);
    std::string sql = "UPDATE " + m.rel + " t SET " + col + " = t." + col + " + 1 FROM (SELECT " +
                      m.key + " AS k, to_jsonb(o)::text AS old FROM " + m.rel + " o WHERE " +
                      m.key + " = ANY($1::text[]::" + m.key_type + "[]) FOR UPDATE) o WHERE t." +
                      m.key + " = o.k RETURNING t." + m.key +
                      "::text, to_jsonb(t)::text, o.old, "
                      "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint";
    pqxx::work tx(impl_->conn);
    auto r = tx.exec_params(sql, text_array(ids));
    tx.commit();
    std::vector<Change> changes;
    changes.reserve(r.size());
    for (const auto& row : r) {
        changes.push_back(
            {row[0].c_str(), row[1].c_str(), row[2].c_str(), row[3].as<std::int64_t>()});
    }
    return changes;
}

std::optional<Change> Truth::insert(const std::string& column, const std::string& value) {
    pqxx::work tx(impl_->conn);
    auto r =
        tx.exec_params("INSERT INTO " + impl_->rel + " AS t (" + quote_ident(column) +
                           ") VALUES ($1) RETURNING t." + impl_->key + "::text, to_jsonb(t)::text",
                       value);
    tx.commit();
    if (r.empty()) return std::nullopt;
    return Change{r[0][0].c_str(), r[0][1].c_str(), ""};
}

std::optional<Change> Truth::remove(const std::string& id) {
    pqxx::work tx(impl_->conn);
    auto r = tx.exec_params("DELETE FROM " + impl_->rel + " t WHERE t." + impl_->key +
                                " = $1::" + impl_->key_type + " RETURNING to_jsonb(t)::text",
                            id);
    tx.commit();
    if (r.empty()) return std::nullopt;
    return Change{id, "", r[0][0].c_str()};
}

std::string Truth::row(const std::string& id) {
    pqxx::nontransaction tx(impl_->conn);
    auto r = tx.exec_params("SELECT to_jsonb(t)::text FROM " + impl_->rel + " t WHERE t." +
                                impl_->key + " = $1::" + impl_->key_type,
                            id);
    return r.empty() ? std::string() : std::string(r[0][0].c_str());
}

std::string Truth::list() {
    pqxx::nontransaction tx(impl_->conn);
    return impl_->list(tx);
}

Truth::Snapshot Truth::snapshot() {
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(impl_->conn);
    Snapshot s;
    auto r =
        tx.exec("SELECT " + impl_->key + "::text, to_jsonb(t)::text FROM " + impl_->rel + " t");
    s.rows.reserve(r.size());
    for (const auto& row : r) s.rows.emplace_back(row[0].c_str(), row[1].c_str());
    s.list = impl_->list(tx);
    tx.commit();
    return s;
}

}  // namespace loadgen
