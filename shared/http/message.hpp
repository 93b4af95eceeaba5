// A request as the framer parsed it, and the answer a handler makes: the only two things a route
// sees. The request owns its bytes, so it can travel from a loop to a lane thread and back; it is
// parsed once (http_framer.hpp) and never again. Nothing but what a handler sets reaches the
// client: the server adds only the framing headers (docs/read-api.md, "Answers").
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace revalidator::http {

class Request {
  public:
    std::string_view method() const { return slice(method_); }
    // The target as sent (path and query).
    std::string_view target() const { return slice(target_); }
    // The target's path, percent-decoded once; the query is not part of it.
    std::string_view path() const { return path_; }
    // The first field of that name (compared without case), or "" when there is none.
    std::string_view header(std::string_view name) const;
    // Every field, in the order received: name and value (trimmed).
    std::vector<std::pair<std::string_view, std::string_view>> headers() const;
    std::string_view body() const { return body_; }
    // Capture group `i` of the route's pattern that matched the path ("" when there is none).
    std::string_view match(std::size_t i) const;
    bool http11() const { return http11_; }
    // The client asked to close after the answer (Connection: close, or HTTP/1.0 without
    // keep-alive).
    bool wants_close() const;
    // The router's: where the capture groups of the matching route are in path().
    void set_matches(std::vector<std::pair<std::size_t, std::size_t>> m) {
        matches_ = std::move(m);
    }

  private:
    friend class RequestFramer;
    struct Span {
        std::uint32_t at = 0;
        std::uint32_t size = 0;
    };
    std::string_view slice(Span s) const { return std::string_view(head_).substr(s.at, s.size); }

    std::string head_;  // request line and header lines, CRLFs included
    std::string body_;  // decoded, when it came chunked
    std::string path_;
    Span method_;
    Span target_;
    std::vector<std::pair<Span, Span>> headers_;  // name, value
    bool http11_ = false;
    std::vector<std::pair<std::size_t, std::size_t>> matches_;  // offset and size in path_
};

// The answer a handler writes; 200 unless it sets a status. A large body is shared, not copied:
// every connection that writes the same value holds one reference (docs/read-api.md, "Capacity").
class Response {
  public:
    using Body = std::shared_ptr<const std::string>;

    int status() const { return status_; }
    void set_status(int status) { status_ = status; }
    std::string_view body() const { return body_ ? std::string_view(*body_) : std::string_view(); }
    const Body& shared_body() const { return body_; }
    // The body (taken, not copied) and its Content-Type.
    void set_content(std::string body, std::string_view content_type);
    void set_content(Body body, std::string_view content_type);
    // Replaces a field of that name, or adds it.
    void set_header(std::string_view name, std::string_view value);
    std::string_view header(std::string_view name) const;
    const std::vector<std::pair<std::string, std::string>>& headers() const { return headers_; }

  private:
    int status_ = 200;
    Body body_;
    std::vector<std::pair<std::string, std::string>> headers_;
};

}  // namespace revalidator::http
