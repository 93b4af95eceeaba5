// Finds where one HTTP/1.1 request ends in the bytes a connection has received, parses it on the
// way, and refuses what is over a limit while it is still arriving. Its parse is the only one: the
// Request it makes (message.hpp) is what the router, the lanes and the handlers read.
//
// The limits (request line, header bytes and count, body size) are enforced on the bytes as they
// come, so a hostile client costs a bounded buffer and never a thread. Every refusal happens here
// and ends the connection (docs/security.md): a request line other than `METHOD target
// HTTP/1.0|1.1` (501 for a method not served), a target that is not a path (origin or absolute
// form) or holds a fragment (`#`) or a broken `%` escape, NUL or a bare CR anywhere in the head, a
// repeated Host or Authorization, and an HTTP/1.1 request without Host.
//
// A chunked body is decoded; `Expect: 100-continue` is the loop's to answer (wants_continue()).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "message.hpp"

namespace revalidator::http {

struct Limits {
    std::size_t max_request_line = 8192;   // 414 above
    std::size_t max_header_bytes = 16384;  // request line + headers; 431 above
    std::size_t max_headers = 100;         // 431 above
    std::size_t max_body_bytes = 1 << 20;  // 413 above, chunked bodies included
};

struct Refusal {
    int status = 0;
    std::string code;
    std::string detail;
};

class RequestFramer {
  public:
    enum class State { NeedMore, Complete, Refused };

    explicit RequestFramer(const Limits& limits) : limits_(limits) {}

    // Looks at everything received so far (the first request starts at `in[0]`). Call again with
    // the grown buffer after each read; work already done is not repeated.
    State feed(std::string_view in);

    // Complete: how many bytes of `in` the request took, and the request, parsed (call once).
    std::size_t consumed() const { return consumed_; }
    Request take(std::string_view in);
    // NeedMore: the client sent `Expect: 100-continue` and waits for it before the body.
    bool wants_continue() const { return expect_continue_ && head_end_ != 0 && consumed_ == 0; }
    const Refusal& refusal() const { return refusal_; }

    // Forgets the request, to frame the next one.
    void reset();

  private:
    State refuse(int status, std::string code, std::string detail);
    State parse_head(std::string_view in);
    State parse_request_line(std::string_view line);
    State feed_chunked(std::string_view in);
    State decode_path(std::string_view target);

    Limits limits_;
    std::size_t scanned_ = 0;   // header bytes already searched for the blank line
    std::size_t head_end_ = 0;  // offset just past the blank line; 0 until found
    std::size_t header_count_ = 0;
    Request request_;  // what take() hands out: spans into the head, filled as it is parsed
    std::size_t content_length_ = 0;
    bool have_length_ = false;  // a Content-Length line was seen (in this or an earlier feed)
    bool chunked_ = false;
    bool expect_continue_ = false;
    bool http11_ = false;
    bool have_host_ = false;
    bool have_authorization_ = false;
    std::size_t chunk_at_ = 0;  // chunked: offset of the next chunk-size line
    bool in_trailers_ = false;  // chunked: past the zero-size chunk
    std::size_t trailers_at_ = 0;
    std::string body_;  // chunked: the body decoded so far
    std::size_t consumed_ = 0;
    Refusal refusal_;
};

}  // namespace revalidator::http
