// What the read routes may ask of Postgres when the cache misses a row: its bytes, rendered as the
// worker renders them, or that it does not exist. Expected failures are answers, not exceptions:
// every connection is busy (the pool is the bound on a miss storm), or the database could not be
// asked. pg_reader.hpp is the Postgres adapter; tests use fakes.
#pragma once

#include <optional>
#include <string>

#include "runtime/result.hpp"

namespace revalidator::ingress {

struct DatabaseError {
    enum class Kind { Busy, Unavailable };
    Kind kind;
    std::string detail;
};

class DatabaseReads {
  public:
    virtual ~DatabaseReads() = default;
    // Row `id`'s JSON, or nullopt when no row has that key (including an id the key's type cannot
    // hold).
    virtual Result<std::optional<std::string>, DatabaseError> row(const std::string& id) = 0;
};

}  // namespace revalidator::ingress
