// libFuzzer target: the RequestFramer every HTTP connection's bytes go through before anything
// else reads them. The first three bytes choose how the rest is fed and with which limits:
//   [0], [1]  where the input is split: the framer sees in[0..split) first, then all of it, as a
//             connection whose buffer grows between two reads;
//   [2]       bit 0: small limits (so short inputs reach every refusal), else the defaults.
// Invariants: feeding in pieces (split, and byte by byte for short inputs) ends in the same state,
// consumed() and parsed request (or refusal status and code) as feeding it whole; consumed() never
// exceeds the input; a refusal is a known status with a code and a detail; the parsed request is
// within the limits, its path a decoded path, its fields clean tokens and trimmed values, and
// written out again as a plain Content-Length request it parses to the same request; pipelined
// requests after it frame the same way.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/http_framer.hpp"

using namespace revalidator::http;

namespace {

using State = RequestFramer::State;

struct Result {
    State state = State::NeedMore;
    std::size_t consumed = 0;
    std::string request;  // the parsed request, written out (written())
    int status = 0;
    std::string code;
};

void check(bool ok) {
    if (!ok) std::abort();
}

// The parsed request as a plain request: its line, its fields but the framing ones, a
// Content-Length, and the body.
std::string written(const Request& r) {
    std::string out = std::string(r.method()) + " " + std::string(r.target()) +
                      (r.http11() ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n");
    for (auto [name, value] : r.headers()) {
        std::string lower(name);
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lower == "content-length" || lower == "transfer-encoding" || lower == "expect")
            continue;
        out += std::string(name) + ": " + std::string(value) + "\r\n";
    }
    return out + "Content-Length: " + std::to_string(r.body().size()) + "\r\n\r\n" +
           std::string(r.body());
}

void check_parsed(const Limits& l, const Request& r);

Result result(const Limits& l, RequestFramer& f, State s, std::string_view in) {
    Result r;
    r.state = s;
    if (s == State::Complete) {
        r.consumed = f.consumed();
        check(r.consumed > 0 && r.consumed <= in.size());
        check(!f.wants_continue());
        const Request parsed = f.take(in);
        check_parsed(l, parsed);
        r.request = written(parsed);
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
    return result(l, f, f.feed(in), in);
}

Result split(const Limits& l, std::string_view in, std::size_t at) {
    RequestFramer f(l);
    const std::string_view first = in.substr(0, at);
    State s = f.feed(first);
    if (s != State::NeedMore) return result(l, f, s, first);
    result(l, f, s, first);
    return result(l, f, f.feed(in), in);
}

Result bytewise(const Limits& l, std::string_view in) {
    RequestFramer f(l);
    State s = State::NeedMore;
    for (std::size_t n = 0; n <= in.size(); ++n) {
        s = f.feed(in.substr(0, n));
        if (s != State::NeedMore) return result(l, f, s, in.substr(0, n));
    }
    return result(l, f, s, in);
}

// The oracle reads the parsed request on its own: it shares no code with the framer it checks,
// so a helper bug there cannot hide itself here.
bool is_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) ||
               std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    });
}

void check_parsed(const Limits& l, const Request& r) {
    check(is_token(r.method()));
    check(r.target().find('#') == std::string_view::npos);
    check(r.path() == "*" || (!r.path().empty() && r.path().front() == '/'));
    check(r.body().size() <= l.max_body_bytes);
    const auto fields = r.headers();
    check(fields.size() <= l.max_headers);
    for (auto [name, value] : fields) {
        check(is_token(name));
        check(value.find('\r') == std::string_view::npos &&
              value.find('\0') == std::string_view::npos);
        check(value.empty() || (value.front() != ' ' && value.front() != '\t' &&
                                value.back() != ' ' && value.back() != '\t'));
    }
}

// Written out as a plain Content-Length request, it parses to the same request.
void check_round_trip(const Limits& l, const std::string& request) {
    // It may have gained a space in each field and a Content-Length line: no limit is tested here.
    const Limits roomy{.max_request_line = std::size_t{1} << 20,
                       .max_header_bytes = std::size_t{1} << 24,
                       .max_headers = std::size_t{1} << 20,
                       .max_body_bytes = l.max_body_bytes};
    RequestFramer again(roomy);
    check(again.feed(request) == State::Complete);
    check(again.consumed() == request.size());
    check(written(again.take(request)) == request);
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
    check_round_trip(l, r.request);

    // The requests pipelined after it, framed as the loop does: one framer, reset in between.
    RequestFramer f(l);
    check(f.feed(in) == State::Complete);
    std::string_view rest = in;
    for (int i = 0; i < 64; ++i) {
        rest.remove_prefix(f.consumed());
        f.reset();
        const Result next = result(l, f, f.feed(rest), rest);
        check(same(next, whole(l, rest)));
        if (next.state != State::Complete) break;
        check_round_trip(l, next.request);
    }
    return 0;
}
