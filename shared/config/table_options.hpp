// The settings that name the watched table (--schema, --table, --primary-key), and whether it has
// a list (--list), declared and checked alike by both processes (config.hpp).
#pragma once

#include <vector>

#include "config.hpp"
#include "table.hpp"

namespace revalidator::config {

void declare(Parser& parser, Table& table);
// --list: whether the table's cache has its list at {prefix} (Collection::list).
void declare_list(Parser& parser, bool& list);
// Adds a problem for each part of the table's name that is missing.
void check(const Table& table, std::vector<Problem>& problems);

}  // namespace revalidator::config
