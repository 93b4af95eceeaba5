#include "pg_source.hpp"

#include <algorithm>
#include <future>
#include <stdexcept>

#include <pqxx/pqxx>

#include "postgres/sql.hpp"
#include "rls.hpp"
#include "runtime/log.hpp"

namespace revalidator::worker {

struct PgSource::Impl {
    Impl(PgConfig c, std::string o) : cfg(std::move(c)), order(std::move(o)) {
        for (const auto& v : cfg.views) {
            auto q = sql::view(cfg.table.schema, cfg.table.name, cfg.table.primary_key, v);
            if (!q) throw std::invalid_argument("view \"" + v.name + "\": " + q.error());
            views.push_back(std::move(*q));
        }
    }

    PgConfig cfg;
    std::string order;
    std::vector<std::string> views;  // each view's query
    std::unique_ptr<pqxx::connection> conn;
    sql::Queries q;
    sql::KeyKind kind = sql::KeyKind::Other;
    KeyOrder key_order = KeyOrder::None;

    using ReadTx = pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>;

    void connect() {
        if (conn && conn->is_open()) return;
        conn.reset();
        auto c = std::make_unique<pqxx::connection>(pg_conninfo(cfg.url, cfg.timeouts));
        pqxx::work tx(*c);
        auto r = tx.exec_params(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped",
            sql::quote_ident(cfg.table.schema) + "." + sql::quote_ident(cfg.table.name),
            cfg.table.primary_key);
        const pqxx::result rls = tx.exec_params(
            "SELECT current_user, c.relrowsecurity, c.relforcerowsecurity, "
            "pg_has_role(current_user, c.relowner, 'USAGE'), r.rolsuper, r.rolbypassrls "
            "FROM pg_class c, pg_roles r WHERE c.oid = to_regclass($1) AND r.rolname = "
            "current_user",
            sql::quote_ident(cfg.table.schema) + "." + sql::quote_ident(cfg.table.name));
        tx.commit();
        if (r.empty()) {
            throw std::runtime_error("table " + cfg.table.qualified() + " with column " +
                                     cfg.table.primary_key + " not found");
        }
        if (!rls.empty()) check_rls(rls[0]);
        std::string type = r[0][0].as<std::string>();
        kind = sql::key_kind(type);
        key_order = KeyOrder::None;
        if (order == "t." + sql::quote_ident(cfg.table.primary_key)) {
            if (kind == sql::KeyKind::Uuid) {
                key_order = KeyOrder::Uuid;
            } else if (kind != sql::KeyKind::Other) {
                key_order = KeyOrder::Integer;
            }
        }
        q = sql::build(cfg.table.schema, cfg.table.name, cfg.table.primary_key, type, order);
        for (std::size_t i = 0; i < views.size(); ++i) {
            try {
                pqxx::read_transaction check(*c);
                check.exec("EXPLAIN " + views[i]);
            } catch (const pqxx::broken_connection&) {
                throw;
            } catch (const pqxx::sql_error& e) {
                throw BadView("view \"" + cfg.views[i].name + "\" of " + cfg.table.qualified() +
                              " does not compile: " + e.what());
            }
        }
        conn = std::move(c);
        log::info("postgres connected", {{"table", cfg.table.qualified()}, {"key_type", type}});
    }

    void check_rls(const pqxx::row& row) const {
        const RlsFacts facts{.role = row[0].as<std::string>(),
                             .enabled = row[1].as<bool>(),
                             .forced = row[2].as<bool>(),
                             .owner = row[3].as<bool>(),
                             .superuser = row[4].as<bool>(),
                             .bypassrls = row[5].as<bool>()};
        const RlsDecision d = decide_rls(facts, cfg.table.qualified(), cfg.allow_rls);
        if (d.verdict == RlsDecision::Verdict::Refuse) throw RlsRefused(d.message);
        if (d.verdict == RlsDecision::Verdict::Warn) {
            log::warn(
                "row-level security filters the rows this worker reads",
                {{"table", cfg.table.qualified()}, {"role", facts.role}, {"detail", d.message}});
        }
    }

    // Rows or digests: the two text columns of each result row.
    template <class Pair = Row>
    static std::vector<Pair> rows_of(const pqxx::result& r) {
        std::vector<Pair> rows;
        rows.reserve(r.size());
        for (const auto& row : r) rows.push_back({row[0].c_str(), row[1].c_str()});
        return rows;
    }

    Snapshot read_changed(const std::vector<std::string>& pks, ListRows list, bool as_text) {
        Snapshot s;
        s.key_order = key_order;
        std::vector<std::string> wanted;
        s.asked.reserve(pks.size());
        for (const auto& pk : pks) {
            auto spelled = sql::canonical(kind, pk);
            s.asked.push_back(spelled.value_or(pk));
            if (spelled || as_text) wanted.push_back(s.asked.back());
        }
        ReadTx tx(*conn);
        if (!wanted.empty()) {
            s.rows =
                rows_of(tx.exec_params(as_text ? q.rows_text : q.rows, sql::text_array(wanted)));
        }
        if (list == ListRows::All) s.listed = rows_of(tx.exec(q.all));
        read_views(tx, s);
        tx.commit();
        return s;
    }

    Snapshot read_all() {
        ReadTx tx(*conn);
        auto r = tx.exec(q.all);
        Snapshot s;
        s.key_order = key_order;
        s.rows = rows_of(r);
        read_views(tx, s);
        tx.commit();
        return s;
    }

    // The rows through a cursor, a run at a time, inside the one transaction whose snapshot the
    // views are read from too: libpq holds one run's result, not the table's. The next run is
    // fetched while the last one is written, so Postgres renders rows while the cache stores
    // them (the transaction is used by one thread at a time: the fetch's, then this one's).
    Snapshot read_runs(std::size_t run_rows, const RowRun& run) {
        ReadTx tx(*conn);
        tx.exec("DECLARE revalidator_full NO SCROLL CURSOR FOR " + q.all);
        const std::string fetch = "FETCH FORWARD " +
                                  std::to_string(std::max<std::size_t>(run_rows, 1)) +
                                  " FROM revalidator_full";
        auto next_run = [&tx, &fetch] { return rows_of(tx.exec(fetch)); };
        {
            // Declared after the transaction: a run that throws waits here for the fetch.
            auto next = std::async(std::launch::async, next_run);
            for (;;) {
                std::vector<Row> rows = next.get();
                if (rows.empty()) break;
                next = std::async(std::launch::async, next_run);
                run(rows, key_order);
            }
        }
        tx.exec("CLOSE revalidator_full");
        Snapshot s;
        s.key_order = key_order;
        read_views(tx, s);
        tx.commit();
        return s;
    }

    void read_views(ReadTx& tx, Snapshot& s) {
        s.views.reserve(views.size());
        for (const auto& query : views) s.views.push_back(rows_of(tx.exec(query)));
    }
};

PgSource::PgSource(PgConfig cfg) {
    const auto& pk = cfg.table.primary_key;
    auto order = sql::order_by(cfg.order_by.empty() ? pk : cfg.order_by, pk);
    if (!order) throw std::invalid_argument("--order-by: " + order.error());
    impl_ = std::make_unique<Impl>(std::move(cfg), *order);
}

PgSource::~PgSource() = default;

void PgSource::check() {
    try {
        impl_->connect();
    } catch (const pqxx::broken_connection&) {
        impl_->conn.reset();
        throw;
    }
}

Snapshot PgSource::read(const std::vector<std::string>& pks, bool full, ListRows list) {
    try {
        impl_->connect();
        if (full) return impl_->read_all();
        try {
            return impl_->read_changed(pks, list, false);
        } catch (const pqxx::data_exception& e) {
            // An id the key type cannot hold (e.g. a malformed uuid): compare as text instead.
            log::warn("id cast failed, reading by text comparison", {{"error", e.what()}});
            return impl_->read_changed(pks, list, true);
        }
    } catch (const pqxx::broken_connection&) {
        impl_->conn.reset();
        throw;
    }
}

Snapshot PgSource::read_full(std::size_t run_rows, const RowRun& run) {
    try {
        impl_->connect();
        return impl_->read_runs(run_rows, run);
    } catch (const pqxx::broken_connection&) {
        impl_->conn.reset();
        throw;
    }
}

std::vector<RowDigest> PgSource::digests(const std::optional<std::string>& after,
                                         std::size_t limit) {
    try {
        impl_->connect();
        Impl::ReadTx tx(*impl_->conn);
        auto r = after ? tx.exec_params(impl_->q.digests_after, *after, limit)
                       : tx.exec_params(impl_->q.digests_first, limit);
        tx.commit();
        return Impl::rows_of<RowDigest>(r);
    } catch (const pqxx::broken_connection&) {
        impl_->conn.reset();
        throw;
    }
}

std::vector<RowDigest> PgSource::digests_of(const std::vector<std::string>& pks) {
    try {
        impl_->connect();
        std::vector<std::string> typed;
        for (const auto& pk : pks) {
            if (sql::canonical(impl_->kind, pk)) typed.push_back(pk);
        }
        auto ask = [&](const std::string& query, const std::vector<std::string>& ids) {
            Impl::ReadTx tx(*impl_->conn);
            auto r = tx.exec_params(query, sql::text_array(ids));
            tx.commit();
            return Impl::rows_of<RowDigest>(r);
        };
        try {
            return ask(impl_->q.digests_of, typed);
        } catch (const pqxx::data_exception&) {
            return ask(impl_->q.digests_of_text, pks);
        }
    } catch (const pqxx::broken_connection&) {
        impl_->conn.reset();
        throw;
    }
}

bool PgSource::spells_key(const std::string& id) {
    impl_->connect();
    return sql::canonical(impl_->kind, id).has_value();
}

}  // namespace revalidator::worker
