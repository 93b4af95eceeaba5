// A collection: one watched table as every process configures it. The ingress routes a webhook to
// the collection of its schema.table, pushes its events to that collection's workers only (one
// event stream per ingress and collection), and serves its reads under its prefix; a worker serves
// one collection. The `[[collection]]` tables of the config file declare them
// (docs/configuration.md, "Collections"); without any, the table flags declare one.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "table.hpp"

namespace revalidator {

// A list view: a list of some of the table's rows, in an order of its own, maybe only the first
// few and only some columns, written at a key of its own with every batch of its table, from the
// batch's snapshot (docs/cache-layout.md, "Views").
struct View {
    std::string name;        // names it in logs
    std::string key;         // its cache key, outside every collection's prefix
    std::string filter{};    // a boolean SQL expression over the row's columns; empty: every row
    std::string order_by{};  // as --order-by; empty: the primary key
    std::size_t limit = 0;   // the first `limit` rows in that order; 0: all
    std::vector<std::string> columns{};  // the columns each element holds; empty: the whole row
};

struct Collection {
    std::string name;        // names it in --collection, logs and metric labels
    Table table;             // schema, name, primary key, cache prefix
    std::string order_by{};  // the list's order, as --order-by; empty: the primary key
    // The ZeroMQ endpoints of this table's active and standby workers, which the ingresses push
    // its events to. Only the ingress uses them; a worker binds its own --bind.
    std::vector<std::string> workers{};
    std::vector<View> views{};
    // Whether the list of all rows is kept at the prefix. Without it (a table too large for its
    // whole list to make sense) the worker keeps none in memory and writes none, and the
    // ingress answers GET {prefix} with 404 no_list; row keys and views are as ever.
    bool list = true;
};

}  // namespace revalidator
