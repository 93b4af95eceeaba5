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

void check(const Table& t, std::vector<Problem>& problems) {
    for (const auto& [flag, value] :
         {std::pair{"--schema", &t.schema}, std::pair{"--table", &t.name},
          std::pair{"--primary-key", &t.primary_key}}) {
        if (value->empty()) problems.push_back({flag, "must not be empty"});
    }
}

}  // namespace revalidator::config
