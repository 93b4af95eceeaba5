#include "http_framer.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "field_text.hpp"

namespace revalidator::http {

namespace {

bool is_token_char(char c) {
    const char lower = ascii_lower(c);
    return (lower >= 'a' && lower <= 'z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// RFC 9110 §5.5: no field holds a NUL or a CR other than its line end's. A C string would cut a
// value at a NUL ("Bearer <secret>\0junk" would pass as the secret), and some parsers take a bare
// CR for a line end, so another header would hide in the value: a proxy in front may be one.
const char* forbidden_byte(std::string_view line) {
    if (line.find('\0') != std::string_view::npos) return "a NUL byte";
    if (line.find('\r') != std::string_view::npos) return "a CR that does not end the line";
    return nullptr;
}

// The methods a route may have, or a 405 names; any other is 501 and ends the connection.
constexpr std::array<std::string_view, 9> kMethods = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};

constexpr std::size_t kHeadersReserved = 16;

std::string bytes(std::size_t n) {
    return std::to_string(n) + " bytes";
}

}  // namespace

void RequestFramer::reset() {
    *this = RequestFramer(limits_);
}

RequestFramer::State RequestFramer::refuse(int status, std::string code, std::string detail) {
    refusal_ = {status, std::move(code), std::move(detail)};
    return State::Refused;
}

RequestFramer::State RequestFramer::feed(std::string_view in) {
    if (!refusal_.code.empty()) return State::Refused;
    if (head_end_ == 0) {
        if (auto s = parse_head(in); s != State::Complete) return s;
    }
    if (chunked_) {
        // Chunk framing is not counted in the body: bound the raw bytes too, or tiny chunks with
        // long extensions would buffer without limit while the decoded body stays small.
        State s = feed_chunked(in);
        if (s == State::NeedMore && in.size() - head_end_ > 2 * limits_.max_body_bytes + 65536) {
            return refuse(413, "payload_too_large",
                          "the chunked body with its framing is over " +
                              bytes(2 * limits_.max_body_bytes + 65536));
        }
        return s;
    }
    if (in.size() - head_end_ < content_length_) return State::NeedMore;
    consumed_ = head_end_ + content_length_;
    return State::Complete;
}

Request RequestFramer::take(std::string_view in) {
    request_.head_.assign(in.substr(0, head_end_));
    if (chunked_) {
        request_.body_ = std::move(body_);
    } else {
        request_.body_.assign(in.substr(head_end_, content_length_));
    }
    return std::move(request_);
}

// Walks the header lines as they arrive; `scanned_` is where the current line starts.
RequestFramer::State RequestFramer::parse_head(std::string_view in) {
    while (true) {
        const bool first = scanned_ == 0;
        const std::size_t nl = in.find('\n', scanned_);
        const std::size_t line_end = nl == std::string_view::npos ? in.size() : nl;
        // The line without its CR (a CR that is the last byte so far may be one).
        const std::size_t line_len =
            line_end - scanned_ - (line_end > scanned_ && in[line_end - 1] == '\r' ? 1 : 0);
        if (first && line_len > limits_.max_request_line) {
            return refuse(414, "uri_too_long",
                          "the request line is longer than " + bytes(limits_.max_request_line));
        }
        if (!first && line_len > limits_.max_request_line) {
            return refuse(431, "headers_too_large",
                          "a header line is longer than " + bytes(limits_.max_request_line));
        }
        if ((nl == std::string_view::npos ? in.size() : nl + 1) > limits_.max_header_bytes) {
            return refuse(
                431, "headers_too_large",
                "the request line and headers are longer than " + bytes(limits_.max_header_bytes));
        }
        if (nl == std::string_view::npos) return State::NeedMore;
        if (nl == scanned_ || in[nl - 1] != '\r') {
            return refuse(400, "bad_request", "header lines must end with CRLF");
        }
        std::string_view line = in.substr(scanned_, nl - 1 - scanned_);
        const std::size_t line_start = scanned_;
        scanned_ = nl + 1;
        if (first) {
            if (parse_request_line(line) == State::Refused) return State::Refused;
            continue;
        }
        if (line.empty()) {
            head_end_ = scanned_;
            break;
        }
        if (++header_count_ > limits_.max_headers) {
            return refuse(431, "headers_too_large",
                          "more than " + std::to_string(limits_.max_headers) + " header lines");
        }
        const std::size_t colon = line.find(':');
        const std::string_view name = line.substr(0, colon);
        const bool named = colon != std::string_view::npos && !name.empty() &&
                           std::all_of(name.begin(), name.end(), is_token_char);
        if (const char* bad = forbidden_byte(line)) {
            return refuse(400, "bad_request",
                          (named ? "the header " + std::string(name.substr(0, 64))
                                 : std::string("a header line")) +
                              " contains " + bad);
        }
        if (!named) {
            return refuse(400, "bad_request",
                          "a header line is not \"Name: value\" (line folding is not accepted)");
        }
        const std::string_view value = trim(line.substr(colon + 1));
        // Room for a usual head at once, rather than the growth by doubling of every request.
        if (request_.headers_.empty()) request_.headers_.reserve(kHeadersReserved);
        request_.headers_.push_back(
            {{static_cast<std::uint32_t>(line_start), static_cast<std::uint32_t>(name.size())},
             {static_cast<std::uint32_t>(value.data() - in.data()),
              static_cast<std::uint32_t>(value.size())}});
        if (iequals(name, "content-length")) {
            std::size_t n = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (value.empty() || ec != std::errc() || end != value.data() + value.size() ||
                (have_length_ && n != content_length_)) {
                return refuse(400, "bad_request",
                              "Content-Length must be one decimal number, given once");
            }
            have_length_ = true;
            content_length_ = n;
        } else if (iequals(name, "transfer-encoding")) {
            if (!iequals(value, "chunked")) {
                return refuse(400, "bad_request",
                              "Transfer-Encoding must be \"chunked\", got \"" +
                                  std::string(value.substr(0, 64)) + "\"");
            }
            chunked_ = true;
        } else if (iequals(name, "expect")) {
            expect_continue_ = expect_continue_ || iequals(value, "100-continue");
        } else if (iequals(name, "host")) {
            // RFC 9112 §3.2; the routes read only the first of each.
            if (have_host_) return refuse(400, "bad_request", "more than one Host header");
            have_host_ = true;
        } else if (iequals(name, "authorization")) {
            if (have_authorization_) {
                return refuse(400, "bad_request", "more than one Authorization header");
            }
            have_authorization_ = true;
        }
    }
    if (chunked_ && have_length_) {
        // Two framings disagreeing is how requests get smuggled past a proxy.
        return refuse(400, "bad_request", "both Content-Length and Transfer-Encoding were sent");
    }
    if (content_length_ > limits_.max_body_bytes) {
        return refuse(413, "payload_too_large",
                      "the request body is " + bytes(content_length_) + "; the limit is " +
                          bytes(limits_.max_body_bytes));
    }
    if (http11_ && !have_host_) {
        return refuse(400, "bad_request", "an HTTP/1.1 request must carry a Host header");
    }
    chunk_at_ = head_end_;
    return State::Complete;
}

// RFC 9112 §3: `method SP request-target SP HTTP-version`, one space each. Returns NeedMore when
// the line is acceptable (the head goes on).
RequestFramer::State RequestFramer::parse_request_line(std::string_view line) {
    if (line.empty()) return refuse(400, "bad_request", "the request line is empty");
    if (const char* bad = forbidden_byte(line)) {
        return refuse(400, "bad_request", std::string("the request line contains ") + bad);
    }
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    const std::string_view method = line.substr(0, sp1);
    const std::string_view target =
        sp2 == std::string_view::npos ? std::string_view() : line.substr(sp1 + 1, sp2 - sp1 - 1);
    const bool shaped = sp2 != std::string_view::npos &&
                        line.find(' ', sp2 + 1) == std::string_view::npos && !method.empty() &&
                        std::all_of(method.begin(), method.end(), is_token_char) &&
                        !target.empty() && std::none_of(target.begin(), target.end(), [](char c) {
                            return static_cast<unsigned char>(c) <= ' ' || c == '\x7f';
                        });
    if (!shaped) {
        return refuse(400, "bad_request",
                      "the request line is not \"METHOD target HTTP/1.1\" with single spaces");
    }
    const std::string_view version = line.substr(sp2 + 1);
    if (version != "HTTP/1.1" && version != "HTTP/1.0") {
        return refuse(400, "bad_request",
                      "only HTTP/1.1 and HTTP/1.0 are served, not \"" +
                          std::string(version.substr(0, 32)) + "\"");
    }
    if (std::find(kMethods.begin(), kMethods.end(), method) == kMethods.end()) {
        return refuse(501, "not_implemented",
                      "the method \"" + std::string(method.substr(0, 32)) + "\" is not served");
    }
    http11_ = version == "HTTP/1.1";
    request_.http11_ = http11_;
    request_.method_ = {0, static_cast<std::uint32_t>(method.size())};
    request_.target_ = {static_cast<std::uint32_t>(sp1 + 1),
                        static_cast<std::uint32_t>(target.size())};
    return decode_path(target);
}

// RFC 9112 §3.2: a path (origin form), or a URL whose path is taken (absolute form); `*` is
// OPTIONS' alone and matches no route. A fragment is never sent (RFC 9110 §4.2.1): one here is a
// client that would read the answer as another resource's. The path is decoded here, once, so
// that every lane and route sees the same one.
RequestFramer::State RequestFramer::decode_path(std::string_view target) {
    if (target.find('#') != std::string_view::npos) {
        return refuse(400, "bad_request", "the request target holds a fragment ('#')");
    }
    if (target.starts_with("http://") || target.starts_with("https://")) {
        const auto authority = target.find("//") + 2;
        const auto slash = target.find_first_of("/?", authority);
        target = slash == std::string_view::npos || target[slash] == '?' ? std::string_view("/")
                                                                         : target.substr(slash);
    } else if (target.front() != '/' && target != "*") {
        return refuse(400, "bad_request", "the request target is not a path starting with '/'");
    }
    target = target.substr(0, target.find('?'));
    std::string& path = request_.path_;
    path.reserve(target.size());
    for (std::size_t i = 0; i < target.size(); ++i) {
        if (target[i] != '%') {
            path += target[i];
            continue;
        }
        unsigned value = 0;
        const auto hex = target.substr(i + 1, 2);
        auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), value, 16);
        if (hex.size() != 2 || ec != std::errc() || end != hex.data() + 2) {
            return refuse(400, "bad_request",
                          "the path holds a '%' not followed by two hexadecimal digits");
        }
        path += static_cast<char>(value);
        i += 2;
    }
    return State::NeedMore;
}

// Chunks are `<hex size>[;extension]\r\n<data>\r\n`, ended by a zero size, optional trailer lines
// and a blank line. Decoded data is kept, so each byte is looked at once.
RequestFramer::State RequestFramer::feed_chunked(std::string_view in) {
    constexpr std::size_t kMaxSizeLine = 1024;
    while (true) {
        // The line at `chunk_at_`, as much of it as has arrived. Its limits are checked before
        // its end is looked for, so that they hold the same however the bytes were split.
        const std::size_t lf = in.find('\n', chunk_at_);
        const std::size_t seen = lf == std::string_view::npos ? in.size() : lf + 1;
        if (in_trailers_ && seen - trailers_at_ > limits_.max_header_bytes) {
            return refuse(431, "headers_too_large",
                          "the trailer lines are longer than " + bytes(limits_.max_header_bytes));
        }
        if (!in_trailers_ && seen - chunk_at_ > kMaxSizeLine + 2) {  // + CRLF
            return refuse(400, "bad_request", "a chunk-size line is longer than 1024 bytes");
        }
        if (lf == std::string_view::npos) return State::NeedMore;
        // A bare LF is refused as in the head: a proxy that took it for a line end would see
        // other chunks (or another request) than we do.
        if (lf == chunk_at_ || in[lf - 1] != '\r') {
            return refuse(400, "bad_request", "chunk-size and trailer lines must end with CRLF");
        }
        const std::size_t nl = lf - 1;  // where the line's CRLF starts
        if (in_trailers_) {
            const bool blank = nl == chunk_at_;
            chunk_at_ = lf + 1;
            if (blank) break;
            continue;
        }
        std::string_view size_line = in.substr(chunk_at_, nl - chunk_at_);
        size_line = size_line.substr(0, size_line.find(';'));
        size_line = trim(size_line);
        std::size_t size = 0;
        auto [end, ec] =
            std::from_chars(size_line.data(), size_line.data() + size_line.size(), size, 16);
        if (size_line.empty() || size_line.size() > 15 || ec != std::errc() ||
            end != size_line.data() + size_line.size()) {
            return refuse(400, "bad_request", "a chunk size is not a hexadecimal number");
        }
        if (size > limits_.max_body_bytes - body_.size()) {
            return refuse(413, "payload_too_large",
                          "the chunked request body is larger than the limit of " +
                              bytes(limits_.max_body_bytes));
        }
        const std::size_t data_at = nl + 2;
        if (size == 0) {
            in_trailers_ = true;
            trailers_at_ = data_at;
            chunk_at_ = data_at;
            continue;
        }
        if (in.size() < data_at + size + 2) return State::NeedMore;
        if (in.substr(data_at + size, 2) != "\r\n") {
            return refuse(400, "bad_request", "chunk data is not followed by CRLF");
        }
        body_.append(in.substr(data_at, size));
        chunk_at_ = data_at + size + 2;
    }
    consumed_ = chunk_at_;
    return State::Complete;
}

}  // namespace revalidator::http
