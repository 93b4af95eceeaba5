// One watched table: where its rows live (in Postgres and in the cache) and which column names a
// row. Both processes name the
// table the same way (the webhook's schema and table, the wire event's, the worker's SQL). The
// defaults are the table a process serves when nothing else is configured; they live here only.
#pragma once

#include <string>

namespace revalidator {

struct Table {
    std::string schema = "public";
    std::string name = "articles";
    std::string primary_key = "id";
    // Where its rows live in the cache: the list at {prefix}, row {id} at {prefix}/{id}. The worker
    // writes there and the ingress's read routes serve the same paths.
    std::string prefix = "/articles";

    // "schema.name", as logs, metrics and the worker's lease name the table.
    std::string qualified() const { return schema + "." + name; }
    bool is(const std::string& s, const std::string& n) const { return s == schema && n == name; }
};

}  // namespace revalidator
