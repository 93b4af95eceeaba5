// The canary's table (schema/canary.sql): one row per collection, whose key is the collection's
// name as the ingress names its lane (the table's name for a process configured by the table
// flags). Its webhooks reach the ingress like a watched table's; the ingress routes each to the
// lane its row names, and that collection's worker takes it as a beat (docs/operations.md, "The
// canary"). Both processes name it here only.
#pragma once

#include <string>

#include "table.hpp"

namespace revalidator {

inline Table canary_table() {
    return {.schema = "revalidator", .name = "canary", .primary_key = "collection", .prefix = ""};
}

inline bool is_canary(const std::string& schema, const std::string& table) {
    return canary_table().is(schema, table);
}

}  // namespace revalidator
