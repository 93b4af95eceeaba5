// The `[[collection]]` tables of a config file (docs/configuration.md, "Collections"), read into
// Collections and checked each alone and against the others (one name, one table and one key
// prefix per collection; no prefix inside another's keys). Every problem names the file, the line
// and the key. Only the configuration parser includes this header: toml++ stays behind it.
#pragma once

#include <string>
#include <vector>

#include <toml++/toml.h>

#include "collection.hpp"
#include "config.hpp"

namespace revalidator::config {

// Appends each collection `node` declares to `out`; returns the problems (none: all were read).
std::vector<Problem> read_collections(const toml::node& node, const std::string& file,
                                      std::vector<Collection>& out);

// The collections as the file declares them, for --check-config.
std::string render_collections(const std::vector<Collection>& collections);

}  // namespace revalidator::config
