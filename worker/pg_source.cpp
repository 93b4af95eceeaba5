#include "pg_source.hpp"

#include <stdexcept>

#include <pqxx/pqxx>

#include "list_cache.hpp"
#include "log.hpp"
#include "sql.hpp"

namespace revalidator::worker {

struct PgSource::Impl {
    Impl(PgConfig c, std::string o) : cfg(std::move(c)), order(std::move(o)) {}

    PgConfig cfg;
    std::string order;
    std::unique_ptr<pqxx::connection> conn;
    sql::Queries q;
    sql::KeyKind kind = sql::KeyKind::Other;
    std::uint64_t versions = 0;
    ListCache list_cache{cfg.list_segment_bytes, versions};
    bool incremental = false;  // the list is ordered by an integer primary key alone

    using ReadTx = pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>;

    void connect() {
        if (conn && conn->is_open()) return;
        conn.reset();
        auto c = std::make_unique<pqxx::connection>(pg_conninfo(cfg.url, cfg.timeouts));
        pqxx::work tx(*c);
        auto r = tx.exec_params(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped",
            sql::quote_ident(cfg.schema) + "." + sql::quote_ident(cfg.table), cfg.primary_key);
        tx.commit();
        if (r.empty()) {
            throw std::runtime_error("table " + cfg.schema + "." + cfg.table + " with column " +
                                     cfg.primary_key + " not found");
        }
        std::string type = r[0][0].as<std::string>();
        kind = sql::key_kind(type);
        incremental =
            kind != sql::KeyKind::Other && order == "t." + sql::quote_ident(cfg.primary_key);
        q = sql::build(cfg.schema, cfg.table, cfg.primary_key, type, order);
        conn = std::move(c);
        log::info("postgres connected",
                  {{"table", cfg.schema + "." + cfg.table}, {"key_type", type}});
    }

    ListSegment whole(std::string text) {
        return {++versions, std::make_shared<const std::string>(std::move(text))};
    }

    static std::vector<Row> rows_of(const pqxx::result& r) {
        std::vector<Row> rows;
        rows.reserve(r.size());
        for (const auto& row : r) rows.push_back({row[0].c_str(), row[1].c_str()});
        return rows;
    }

    Snapshot read_changed(const std::vector<std::string>& pks, bool as_text) {
        Snapshot s;
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
        bool from_memory = incremental && list_cache.valid();
        if (!from_memory) s.list = {whole(tx.exec(q.list)[0][0].c_str())};
        tx.commit();
        if (from_memory) {
            list_cache.apply(s.asked, s.rows);
            s.list = list_cache.segments();
        }
        return s;
    }

    Snapshot read_all() {
        ReadTx tx(*conn);
        auto r = tx.exec(q.all);
        tx.commit();
        Snapshot s;
        s.rows = rows_of(r);
        if (incremental) list_cache.replace(s.rows);
        if (list_cache.valid()) {
            s.list = list_cache.segments();
            return s;
        }
        std::vector<std::string_view> elements;
        elements.reserve(s.rows.size());
        for (const auto& row : s.rows) elements.push_back(row.json);
        s.list = {whole(jsonb_array_text(elements))};
        return s;
    }
};

PgSource::PgSource(PgConfig cfg) {
    auto order =
        sql::order_by(cfg.order_by.empty() ? cfg.primary_key : cfg.order_by, cfg.primary_key);
    if (!order) throw std::invalid_argument("--order-by: " + order.error());
    impl_ = std::make_unique<Impl>(std::move(cfg), *order);
}

PgSource::~PgSource() = default;

Snapshot PgSource::read(const std::vector<std::string>& pks, bool full) {
    try {
        impl_->connect();
        if (full) return impl_->read_all();
        try {
            return impl_->read_changed(pks, false);
        } catch (const pqxx::data_exception& e) {
            // An id the key type cannot hold (e.g. a malformed uuid): compare as text instead.
            log::warn("id cast failed, reading by text comparison", {{"error", e.what()}});
            return impl_->read_changed(pks, true);
        }
    } catch (const pqxx::broken_connection&) {
        impl_->conn.reset();
        throw;
    }
}

}  // namespace revalidator::worker
