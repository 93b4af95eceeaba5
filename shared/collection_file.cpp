#include "collection_file.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "cache_key.hpp"
#include "endpoint.hpp"
#include "sql.hpp"

namespace revalidator::config {

namespace {

constexpr const char* kKeys[] = {"name", "table", "primary-key", "prefix", "order-by", "workers"};

bool valid_name(const std::string& name) {
    if (name.empty() || name.size() > 64) return false;
    for (unsigned char c : name) {
        if (!std::isalnum(c) && c != '_' && c != '-') return false;
    }
    return true;
}

// Reads one [[collection]] table; `problem` takes the key and what is wrong with it.
template <class Report>
Collection read_one(const toml::table& t, Report&& problem) {
    Collection c;
    for (const auto& [key, value] : t) {
        const std::string k(key.str());
        if (std::find(std::begin(kKeys), std::end(kKeys), k) == std::end(kKeys)) {
            problem(k,
                    "no such key (a collection has name, table, primary-key, prefix, order-by "
                    "and workers)");
        }
    }
    auto text = [&](const char* key, std::string& into) {
        const auto* node = t.get(key);
        if (!node) return false;
        if (auto s = node->value_exact<std::string>()) {
            into = *s;
            return true;
        }
        problem(key, "must be a string");
        return false;
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
    return c;
}

// Whether keys under one prefix can be keys under the other: row "drafts" of /articles is the
// list of /articles/drafts.
bool overlap(const std::string& a, const std::string& b) {
    return a == b || a.starts_with(b + "/") || b.starts_with(a + "/");
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
        out << "\n[[collection]]\n" << t << "\n";
    }
    return out.str();
}

}  // namespace revalidator::config
