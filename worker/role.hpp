// The worker's role: standby until it holds the table's lease, then active (docs/operations.md,
// "One writer, fenced").
//
// A standby polls for the lease. Once it has it, it waits the takeover delay (a margin for a write
// the previous holder's network still delivers late), binds the inbox and becomes active: it
// requests a full resync, since everything before this moment is covered by one full read, then
// feeds the loop while the lease is held, resyncing again whenever another worker asks for a
// repair. A lost lease unbinds the inbox, so events flow to the new active worker, and the worker
// is a standby again. On shutdown the lease is released at once.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "batch_loop.hpp"
#include "role_interfaces.hpp"
#include "runtime/metrics.hpp"

namespace revalidator::worker {

// max_batch and takeover_delay come from the worker's Config (worker_config.hpp), which holds
// their defaults; the others are the role's own.
struct RoleConfig {
    std::string table;  // "schema.table", for the log
    std::string bind;   // the inbox's endpoint, for the log
    std::size_t max_batch = 0;
    std::chrono::milliseconds takeover_delay{};
    std::chrono::milliseconds lease_poll{500};
    std::chrono::milliseconds max_receive_wait{200};  // how long the loop may go without a step
};

class Role {
  public:
    // Binds the inbox; throws when the endpoint cannot be bound.
    using Bind = std::function<std::unique_ptr<Inbox>()>;

    // Registers revalidator_worker_active.
    Role(TableLease& lease, Bind bind, BatchLoop& loop, StopSignal& stop, RoleConfig cfg,
         metrics::Registry& registry);

    // Runs until a stop is requested (0) or the inbox cannot be bound (1); the lease is released
    // before it returns.
    int run();
    // Thread-safe: whether the worker is active (holds the lease and consumes).
    bool active() const { return *active_; }

  private:
    // Consumes while the lease is held and no stop is requested.
    void consume(Inbox& inbox);

    TableLease& lease_;
    Bind bind_;
    BatchLoop& loop_;
    StopSignal& stop_;
    RoleConfig cfg_;
    // Shared with the registry's gauge, which may outlive the role.
    std::shared_ptr<std::atomic<bool>> active_ = std::make_shared<std::atomic<bool>>(false);
};

// StopSignal over the process's SIGTERM/SIGINT handling (shutdown.hpp).
class ProcessStop : public StopSignal {
  public:
    bool requested() const override;
    bool wait_for(std::chrono::milliseconds d) override;
};

}  // namespace revalidator::worker
