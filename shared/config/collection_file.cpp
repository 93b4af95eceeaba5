#include "collection_file.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <sstream>

#include "cache/cache_key.hpp"
#include "postgres/sql.hpp"
#include "wire/endpoint.hpp"

namespace revalidator::config {

namespace {

constexpr const char* kKeys[] = {"name",     "table",   "primary-key", "prefix",
                                 "order-by", "workers", "view",        "list"};
constexpr const char* kViewKeys[] = {"name", "key", "filter", "order-by", "limit", "columns"};
constexpr std::int64_t kMaxLimit = 1'000'000;

bool valid_name(const std::string& name) {
    if (name.empty() || name.size() > 64) return false;
    for (unsigned char c : name) {
        if (!std::isalnum(c) && c != '_' && c != '-') return false;
    }
    return true;
}

// A string key of `t` read into `into`: false when absent or not a string (then a problem).
template <class Report>
bool text(const toml::table& t, const std::string& key, std::string& into, Report& problem) {
    const auto* node = t.get(key);
    if (!node) return false;
    if (auto s = node->value_exact<std::string>()) {
        into = *s;
        return true;
    }
    problem(key, "must be a string");
    return false;
}

// Reads one [[collection.view]] table of a collection keyed by `primary_key`.
template <class Report>
View read_view(const toml::table& t, const std::string& primary_key, Report&& problem) {
    View v;
    for (const auto& [key, value] : t) {
        const std::string k(key.str());
        if (std::find(std::begin(kViewKeys), std::end(kViewKeys), k) == std::end(kViewKeys)) {
            problem(k, "no such key (a view has name, key, filter, order-by, limit and columns)");
        }
    }
    if (!text(t, "name", v.name, problem)) {
        if (!t.contains("name")) problem("name", "is missing: every view has a name");
    } else if (!valid_name(v.name)) {
        problem("name", "\"" + v.name + "\" must be 1 to 64 letters, digits, '_' or '-'");
    }
    if (!text(t, "key", v.key, problem)) {
        if (!t.contains("key")) problem("key", "is missing: the cache key the view is written at");
    } else if (auto bad = check_prefix(v.key)) {
        problem("key", "\"" + v.key + "\" " + *bad);
    }
    text(t, "filter", v.filter, problem);
    if (text(t, "order-by", v.order_by, problem) && !primary_key.empty()) {
        if (auto order = sql::order_by(v.order_by, primary_key); !order) {
            problem("order-by", order.error());
        }
    }
    if (const auto* limit = t.get("limit")) {
        auto n = limit->value_exact<std::int64_t>();
        if (!n || *n < 1 || *n > kMaxLimit) {
            problem("limit", "must be an integer from 1 to " + std::to_string(kMaxLimit));
        } else {
            v.limit = static_cast<std::size_t>(*n);
        }
    }
    if (const auto* columns = t.get("columns")) {
        const auto* array = columns->as_array();
        if (!array || array->empty()) problem("columns", "must be a non-empty array of names");
        for (std::size_t i = 0; array && i < array->size(); ++i) {
            auto column = (*array)[i].value_exact<std::string>();
            if (!column || column->empty()) {
                problem("columns", "element " + std::to_string(i + 1) + " must be a name");
            } else {
                v.columns.push_back(*column);
            }
        }
    }
    return v;
}

// Reads one [[collection]] table; `problem` takes the key and what is wrong with it.
template <class Report>
Collection read_one(const toml::table& t, Report&& problem) {
    Collection c;
    for (const auto& [key, value] : t) {
        const std::string k(key.str());
        if (std::find(std::begin(kKeys), std::end(kKeys), k) == std::end(kKeys)) {
            problem(k,
                    "no such key (a collection has name, table, primary-key, prefix, order-by, "
                    "list, workers and view)");
        }
    }
    auto text = [&](const char* key, std::string& into) {
        return config::text(t, key, into, problem);
    };
    if (!text("name", c.name)) {
        if (!t.contains("name")) problem("name", "is missing: every collection has a name");
    } else if (!valid_name(c.name)) {
        problem("name", "\"" + c.name + "\" must be 1 to 64 letters, digits, '_' or '-'");
    }
    std::string table;
    if (!text("table", table)) {
        if (!t.contains("table")) problem("table", "is missing: give it as \"schema.table\"");
    } else {
        const auto dot = table.find('.');
        if (dot == std::string::npos) {
            c.table.name = table;
        } else {
            c.table.schema = table.substr(0, dot);
            c.table.name = table.substr(dot + 1);
        }
        if (c.table.schema.empty() || c.table.name.empty() ||
            c.table.name.find('.') != std::string::npos) {
            problem("table", "\"" + table + "\" must be \"schema.table\" or \"table\"");
        }
    }
    if (text("primary-key", c.table.primary_key) && c.table.primary_key.empty()) {
        problem("primary-key", "must not be empty");
    }
    c.table.prefix = "/" + c.name;
    if (text("prefix", c.table.prefix) || valid_name(c.name)) {
        if (auto bad = check_prefix(c.table.prefix)) {
            problem("prefix", "\"" + c.table.prefix + "\" " + *bad);
        }
    }
    if (text("order-by", c.order_by) && !c.table.primary_key.empty()) {
        if (auto order = sql::order_by(c.order_by, c.table.primary_key); !order) {
            problem("order-by", order.error());
        }
    }
    if (const auto* list = t.get("list")) {
        if (auto b = list->value_exact<bool>()) {
            c.list = *b;
        } else {
            problem("list", "must be true or false");
        }
    }
    if (const auto* workers = t.get("workers")) {
        const auto* array = workers->as_array();
        if (!array) problem("workers", "must be an array of endpoints");
        for (std::size_t i = 0; array && i < array->size(); ++i) {
            auto endpoint = (*array)[i].value_exact<std::string>();
            if (!endpoint) {
                problem("workers", "element " + std::to_string(i + 1) + " must be a string");
            } else if (auto bad = endpoint_error(*endpoint)) {
                problem("workers", *bad);
            } else {
                c.workers.push_back(*endpoint);
            }
        }
    }
    if (const auto* views = t.get("view")) {
        const auto* array = views->as_array();
        if (!array || !array->is_array_of_tables()) {
            problem("view", "must be an array of tables, each under [[collection.view]]");
        }
        for (std::size_t i = 0; array && array->is_array_of_tables() && i < array->size(); ++i) {
            const std::string which = "view " + std::to_string(i + 1);
            c.views.push_back(read_view(*(*array)[i].as_table(), c.table.primary_key,
                                        [&](const std::string& key, const std::string& message) {
                                            problem("view." + key, which + ": " + message);
                                        }));
        }
    }
    return c;
}

// Whether keys under one prefix can be keys under the other: row "drafts" of /articles is the
// list of /articles/drafts, and a list's parts are "{key}:part:...".
bool overlap(const std::string& a, const std::string& b) {
    auto inside = [](const std::string& x, const std::string& y) {
        return x.starts_with(y + "/") || x.starts_with(y + ":");
    };
    return a == b || inside(a, b) || inside(b, a);
}

}  // namespace

std::vector<Problem> read_collections(const toml::node& node, const std::string& file,
                                      std::vector<Collection>& out) {
    std::vector<Problem> problems;
    const auto* array = node.as_array();
    if (!array || !array->is_array_of_tables()) {
        return {{"collection", file + ":" + std::to_string(node.source().begin.line) +
                                   ": must be an array of tables, each under [[collection]]"}};
    }
    const std::size_t first = out.size();
    for (const auto& element : *array) {
        const auto& t = *element.as_table();
        const auto line = std::to_string(t.source().begin.line);
        std::string name;
        if (auto n = t.get("name"); n && n->value_exact<std::string>()) {
            name = " \"" + *n->value_exact<std::string>() + "\"";
        }
        out.push_back(read_one(t, [&](const std::string& key, const std::string& message) {
            problems.push_back(
                {"collection." + key, file + ":" + line + ": collection" + name + ": " + message});
        }));
    }
    for (std::size_t i = first; i < out.size(); ++i) {
        for (std::size_t j = first; j < i; ++j) {
            const auto& a = out[j];
            const auto& b = out[i];
            auto clash = [&](const char* key, const std::string& what) {
                problems.push_back(
                    {std::string("collection.") + key,
                     file + ": collections \"" + a.name + "\" and \"" + b.name + "\" " + what});
            };
            if (a.name == b.name) clash("name", "have the same name");
            if (a.table.is(b.table.schema, b.table.name)) {
                clash("table", "watch the same table " + a.table.qualified() +
                                   " (one collection per table)");
            }
            if (overlap(a.table.prefix, b.table.prefix)) {
                clash("prefix", "have prefixes \"" + a.table.prefix + "\" and \"" + b.table.prefix +
                                    "\" whose keys can collide");
            }
        }
    }
    // Every list key (a prefix or a view's key) apart from every other: a view's key is a list's,
    // so it may lie in no collection's keys and no other view's.
    std::vector<std::pair<std::string, std::string>> lists;  // key, what owns it
    for (std::size_t i = first; i < out.size(); ++i) {
        lists.emplace_back(out[i].table.prefix, "collection \"" + out[i].name + "\"");
    }
    for (std::size_t i = first; i < out.size(); ++i) {
        for (const auto& v : out[i].views) {
            const std::string owner =
                "view \"" + v.name + "\" of collection \"" + out[i].name + "\"";
            for (const auto& [key, other] : lists) {
                if (!v.key.empty() && overlap(v.key, key)) {
                    problems.push_back({"collection.view.key", file + ": " + owner + ": key \"" +
                                                                   v.key + "\" collides with " +
                                                                   other + " at \"" + key + "\""});
                }
            }
            lists.emplace_back(v.key, owner);
        }
    }
    return problems;
}

std::string render_collections(const std::vector<Collection>& collections) {
    std::ostringstream out;
    for (const auto& c : collections) {
        toml::array workers;
        for (const auto& w : c.workers) workers.push_back(w);
        toml::table t{{"name", c.name},
                      {"table", c.table.qualified()},
                      {"primary-key", c.table.primary_key},
                      {"prefix", c.table.prefix},
                      {"workers", workers}};
        if (!c.order_by.empty()) t.insert("order-by", c.order_by);
        if (!c.list) t.insert("list", false);
        out << "\n[[collection]]\n" << t << "\n";
        for (const auto& v : c.views) {
            toml::table view{{"name", v.name}, {"key", v.key}};
            if (!v.filter.empty()) view.insert("filter", v.filter);
            if (!v.order_by.empty()) view.insert("order-by", v.order_by);
            if (v.limit > 0) view.insert("limit", static_cast<std::int64_t>(v.limit));
            if (!v.columns.empty()) {
                toml::array columns;
                for (const auto& col : v.columns) columns.push_back(col);
                view.insert("columns", columns);
            }
            out << "\n[[collection.view]]\n" << view << "\n";
        }
    }
    return out.str();
}

}  // namespace revalidator::config
