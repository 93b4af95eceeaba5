#include "role.hpp"

#include <algorithm>
#include <exception>

#include "runtime/log.hpp"
#include "runtime/shutdown.hpp"

namespace revalidator::worker {

using std::chrono::milliseconds;

Role::Role(TableLease& lease, Bind bind, BatchLoop& loop, StopSignal& stop, RoleConfig cfg,
           metrics::Registry& registry)
    : lease_(lease), bind_(std::move(bind)), loop_(loop), stop_(stop), cfg_(std::move(cfg)) {
    registry.gauge_fn("revalidator_worker_active",
                      "1 while this worker holds the table's lease, 0 as standby",
                      [active = active_] { return *active ? 1.0 : 0.0; });
}

int Role::run() {
    int exit_code = 0;
    while (!stop_.requested()) {
        log::info("standby: waiting for the lease", {{"table", cfg_.table}});
        while (!lease_.try_acquire()) {
            if (stop_.wait_for(cfg_.lease_poll)) break;
        }
        if (stop_.requested() || stop_.wait_for(cfg_.takeover_delay)) break;
        std::unique_ptr<Inbox> inbox;
        try {
            inbox = bind_();
        } catch (const std::exception& e) {
            log::error("cannot bind", {{"bind", cfg_.bind}, {"error", e.what()}});
            exit_code = 1;
            break;
        }
        *active_ = true;
        log::info("active: lease taken, consuming", {{"bind", cfg_.bind}});
        consume(*inbox);
        *active_ = false;
    }
    // The batch in hand was finished by step(); events not yet received are covered by the
    // next active worker's resync.
    lease_.release();
    return exit_code;
}

void Role::consume(Inbox& inbox) {
    loop_.became_active();
    auto wait = milliseconds(0);
    const BatchLoop::Refill waiting = [&] {
        return inbox.receive(cfg_.max_batch, milliseconds(0));
    };
    // A lost lease also closes the write gate at once (McSink throws Fenced); returning unbinds
    // the inbox, so events flow to the new active worker.
    while (!stop_.requested() && lease_.held()) {
        loop_.ingest(inbox.receive(cfg_.max_batch, std::min(wait, cfg_.max_receive_wait)));
        if (lease_.take_repair_request()) loop_.request_resync("repair asked by another worker");
        wait = loop_.step(waiting);
    }
    // The batch read ahead is written (or, fenced, kept owed) before the inbox goes.
    loop_.finish();
}

bool ProcessStop::requested() const {
    return shutdown::requested();
}

bool ProcessStop::wait_for(milliseconds d) {
    return shutdown::wait_for(d);
}

}  // namespace revalidator::worker
