// The canary's Postgres adapter (canary.hpp): a connection of its own to --canary-postgres-url,
// which may write, opened when first needed and again after any failure. Every connect and
// statement ends by a deadline (pg_deadline.hpp) and runs under statement_timeout, so a frozen
// Postgres holds the canary's thread, and so its stop, for at most that long.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "canary.hpp"

namespace revalidator::worker {

class PgCanaryStore : public CanaryStore {
  public:
    // `name`: the row's key. `timeout`: the bound of one connect or statement.
    PgCanaryStore(const std::string& url, std::string name, std::chrono::milliseconds timeout);
    ~PgCanaryStore() override;

    Result<CanaryBeat, std::string> write() override;
    Result<std::int64_t, std::string> read() override;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace revalidator::worker
