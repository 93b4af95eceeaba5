#include "intake.hpp"

#include <algorithm>

namespace revalidator::ingress {

Answer intake(const Delivery& d, const Authenticator& auth, const Destinations& to) {
    auto admitted = auth.admit({d.authorization, d.webhook, d.body});
    if (!admitted) {
        return {admitted.error().status, admitted.error().code, admitted.error().detail};
    }
    auto refuse = [&](int status, std::string code, std::string detail, int table = -1) {
        auth.release(*admitted);
        return Answer{status, std::move(code), std::move(detail), table};
    };
    if (!is_json_content_type(d.content_type)) {
        return refuse(415, "unsupported_media_type",
                      "Content-Type must be application/json, got \"" +
                          (d.content_type.empty() ? "(none)" : std::string(d.content_type)) + "\"");
    }
    auto routed = parse_webhook(d.body, to.tables);
    if (!routed) return refuse(routed.error().status, routed.error().code, routed.error().detail);
    const Table& table = to.tables[routed->table];
    std::size_t lane = routed->table;
    if (lane == to.queues.size()) {  // the canary's table: the lane its row names
        const std::string& name = routed->changes.front().pk;
        const auto named = std::find(to.canaries.begin(), to.canaries.end(), name);
        if (named == to.canaries.end()) {
            std::string names;
            for (const auto& n : to.canaries) names += (names.empty() ? "\"" : ", \"") + n + "\"";
            return refuse(422, "unknown_table",
                          "the canary row \"" + name +
                              "\" names no collection this ingress serves (it serves " + names +
                              ")");
        }
        lane = static_cast<std::size_t>(named - to.canaries.begin());
    }
    EventQueue& queue = *to.queues[lane];
    // While draining, requests still being served are queued: the queue is flushed before exit.
    // Only a closed queue refuses, and the refusal takes a number like a full queue.
    for (const auto& c : routed->changes) {
        switch (queue.push(c.op, table.schema, table.name, c.pk, d.received_us)) {
            case EventQueue::Push::Queued:
                continue;
            case EventQueue::Push::Closed:
                return refuse(503, "draining",
                              "this ingress is shutting down; send to another instance",
                              static_cast<int>(routed->table));
            case EventQueue::Push::Full:
                return refuse(503, "queue_full",
                              "the event queue of " + table.qualified() + " is full; retry later",
                              static_cast<int>(routed->table));
        }
    }
    return {};
}

}  // namespace revalidator::ingress
