// libFuzzer target: the RequestFramer every HTTP connection's bytes go through before anything
// else reads them. The first three bytes choose how the rest is fed and with which limits:
//   [0], [1]  where the input is split: the framer sees in[0..split) first, then all of it, as a
//             connection whose buffer grows between two reads;
//   [2]       bit 0: small limits (so short inputs reach every refusal), else the defaults.
// Invariants: feeding in pieces (split, and byte by byte for short inputs) ends in the same state,
// consumed() and request (or refusal status and code) as feeding it whole; consumed() never
// exceeds the input; a refusal is a known status with a code and a detail; the request handed to
// httplib has no Transfer-Encoding and no `Expect: 100-continue` (the loop answers that itself),
// and framed again it is Complete, unchanged and with the same body length; pipelined requests
// after it frame the same way.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http_framer.hpp"

using namespace revalidator::http;

namespace {

using State = RequestFramer::State;

struct Result {
    State state = State::NeedMore;
    std::size_t consumed = 0;
    std::string request;
    int status = 0;
    std::string code;
};

void check(bool ok) {
    if (!ok) std::abort();
}

Result result(const RequestFramer& f, State s, std::string_view in) {
    Result r;
    r.state = s;
    if (s == State::Complete) {
        r.consumed = f.consumed();
        check(r.consumed > 0 && r.consumed <= in.size());
        check(!f.wants_continue());
        r.request = std::string(f.request(in));
    } else if (s == State::Refused) {
        const Refusal& x = f.refusal();
        check(x.status == 400 || x.status == 413 || x.status == 414 || x.status == 431 ||
              x.status == 501);
        check(!x.code.empty() && !x.detail.empty());
        r.status = x.status;
        r.code = x.code;
    }
    return r;
}

bool same(const Result& a, const Result& b) {
    return a.state == b.state && a.consumed == b.consumed && a.request == b.request &&
           a.status == b.status && a.code == b.code;
}

Result whole(const Limits& l, std::string_view in) {
    RequestFramer f(l);
    return result(f, f.feed(in), in);
}

Result split(const Limits& l, std::string_view in, std::size_t at) {
    RequestFramer f(l);
    const std::string_view first = in.substr(0, at);
    State s = f.feed(first);
    if (s != State::NeedMore) return result(f, s, first);
    result(f, s, first);
    return result(f, f.feed(in), in);
}

Result bytewise(const Limits& l, std::string_view in) {
    RequestFramer f(l);
    State s = State::NeedMore;
    for (std::size_t n = 0; n <= in.size(); ++n) {
        s = f.feed(in.substr(0, n));
        if (s != State::NeedMore) return result(f, s, in.substr(0, n));
    }
    return result(f, s, in);
}

// The oracle below reads the rewritten head on its own: it shares no code with the framer it
// checks, so a helper bug there cannot hide itself here.
bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// What httplib will parse: a head of CRLF lines, the framing left to Content-Length alone.
void check_request(const Limits& l, const std::string& request) {
    const std::size_t head_end = request.find("\r\n\r\n");
    check(head_end != std::string::npos);
    const std::size_t body_length = request.size() - head_end - 4;
    std::size_t at = request.find("\r\n");
    while (at < head_end) {
        const std::size_t next = request.find("\r\n", at + 2);
        const std::string_view line = std::string_view(request).substr(at + 2, next - at - 2);
        const std::size_t colon = line.find(':');
        check(colon != std::string_view::npos);
        const std::string_view name = line.substr(0, colon);
        const std::string_view value = trim(line.substr(colon + 1));
        check(!iequals(name, "transfer-encoding"));
        check(!(iequals(name, "expect") && iequals(value, "100-continue")));
        if (iequals(name, "content-length")) {
            std::size_t n = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
            check(ec == std::errc() && end == value.data() + value.size() && n == body_length);
        }
        at = next;
    }
    RequestFramer again(l);
    check(again.feed(request) == State::Complete);
    check(again.consumed() == request.size());
    check(again.request(request) == request);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    const std::string_view in(reinterpret_cast<const char*>(data) + 3, size - 3);
    const std::size_t at = (data[0] | (std::size_t{data[1]} << 8)) % (in.size() + 1);
    Limits l;
    if (data[2] & 1) {
        l.max_request_line = 64;
        l.max_header_bytes = 256;
        l.max_headers = 8;
        l.max_body_bytes = 256;
    }

    const Result r = whole(l, in);
    check(same(split(l, in, at), r));
    if (in.size() <= 512) check(same(bytewise(l, in), r));
    if (r.state != State::Complete) return 0;
    check_request(l, r.request);

    // The requests pipelined after it, framed as the loop does: one framer, reset in between.
    RequestFramer f(l);
    check(f.feed(in) == State::Complete);
    std::string_view rest = in;
    for (int i = 0; i < 64; ++i) {
        rest.remove_prefix(f.consumed());
        f.reset();
        const Result next = result(f, f.feed(rest), rest);
        check(same(next, whole(l, rest)));
        if (next.state != State::Complete) break;
        check_request(l, next.request);
    }
    return 0;
}
