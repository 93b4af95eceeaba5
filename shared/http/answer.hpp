// The bytes one answer writes: its head (status line and fields) owned, its body shared with
// every other answer of the same value. What the server adds to a handler's fields is only the
// framing: Content-Length (none on a 304 or 204), and Connection when it closes or speaks
// HTTP/1.0. A HEAD answer is its GET's head without the body. Nothing else is added: no range,
// no content coding, no field the handler did not choose (docs/read-api.md, "Answers").
#pragma once

#include <cstddef>
#include <string>

#include "http_framer.hpp"
#include "message.hpp"

namespace revalidator::http {

struct Answer {
    std::string head;
    Response::Body body;  // null when the answer has none
    std::size_t size() const { return head.size() + (body ? body->size() : 0); }
};

// `http11`: the request's version (an HTTP/1.0 client is told when the connection stays open).
Answer render(const Response& res, bool head_only, bool http11, bool close);

// A refusal made before any route: JSON {"error", "detail"}, and the connection closes.
Answer refusal_answer(const Refusal& r);

// {"error": code, "detail": detail}, the body of every rejection.
std::string error_body(const std::string& code, const std::string& detail);

}  // namespace revalidator::http
