// What POST /revalidate answers, as logic without HTTP: authenticate, check the Content-Type,
// validate the body, queue one event per row. The answer comes once the events are queued, never
// after the worker: the sender gives up after about a second and never retries. A webhook-id
// claimed against replays is given back when the webhook is refused after all (a sender retrying
// a message refused with 503 must not be taken for a replay). docs/architecture.md,
// "What a 202 means".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth.hpp"
#include "event_queue.hpp"
#include "webhook.hpp"

namespace revalidator::ingress {

// A webhook as received: the headers that matter and the raw body.
struct Delivery {
    std::string_view authorization;
    std::string_view content_type;
    WebhookHeaders webhook;
    std::string_view body;
    std::uint64_t received_us = 0;
};

// 202 with an empty code, or the refusal. A 503 asks the sender to retry (Retry-After).
struct Answer {
    int status = 202;
    std::string code;
    std::string detail;
    int table = -1;  // the index in Destinations of the table refused at; -1 before it is known
};

// The tables this ingress serves and, at the same index, the queue of each table's event stream.
// With `canaries` (each table's canary row key, at the same index), the canary's table
// (config/canary.hpp) follows the served tables in `tables`, without a queue of its own: a beat
// goes to the stream of the collection its row names, and a row that names none is refused with
// 422 as an unknown table is.
struct Destinations {
    std::vector<Table> tables;
    std::vector<EventQueue*> queues;
    std::vector<std::string> canaries{};
};

Answer intake(const Delivery& delivery, const Authenticator& auth, const Destinations& to);

}  // namespace revalidator::ingress
