// A collection: one watched table as every process configures it. The ingress routes a webhook to
// the collection of its schema.table, pushes its events to that collection's workers only (one
// event stream per ingress and collection), and serves its reads under its prefix; a worker serves
// one collection. The `[[collection]]` tables of the config file declare them
// (docs/configuration.md, "Collections"); without any, the table flags declare one.
#pragma once

#include <string>
#include <vector>

#include "table.hpp"

namespace revalidator {

struct Collection {
    std::string name;      // names it in --collection, logs and metric labels
    Table table;           // schema, name, primary key, cache prefix
    std::string order_by;  // the list's order, as --order-by; empty: the primary key
    // The ZeroMQ endpoints of this table's active and standby workers, which the ingresses push
    // its events to. Only the ingress uses them; a worker binds its own --bind.
    std::vector<std::string> workers;
};

}  // namespace revalidator
