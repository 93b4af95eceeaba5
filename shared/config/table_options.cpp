#include "table_options.hpp"

#include "cache/cache_key.hpp"

namespace revalidator::config {

void declare(Parser& p, Table& t) {
    p.option("--schema", t.schema, "schema of the watched table");
    p.option("--table", t.name, "name of the watched table");
    p.option("--primary-key", t.primary_key, "primary key column of the watched table");
    p.option("--prefix", t.prefix, "cache key prefix: the list at {prefix}, rows at {prefix}/{id}")
        ->check([](const std::string& prefix) { return check_prefix(prefix).value_or(""); });
}

void declare_list(Parser& p, bool& list) {
    p.flag("--list", list,
           "keep the table's list of all rows at {prefix}; --list=false: the row keys (and "
           "views) only, for a table whose whole list is too large to serve "
           "(docs/configuration.md)");
}

void check(const Table& t, std::vector<Problem>& problems) {
    for (const auto& [flag, value] :
         {std::pair{"--schema", &t.schema}, std::pair{"--table", &t.name},
          std::pair{"--primary-key", &t.primary_key}}) {
        if (value->empty()) problems.push_back({flag, "must not be empty"});
    }
}

}  // namespace revalidator::config
