// RequestFramer: where one HTTP/1.1 request ends in a growing buffer, and what it refuses. Every
// case is also fed split at every byte (first a prefix, then the whole) and byte by byte: the
// framer must answer the same as when it sees the whole input at once.
#include "http/http_framer.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace revalidator::http {
namespace {

using State = RequestFramer::State;

const char* name(State s) {
    switch (s) {
        case State::NeedMore:
            return "NeedMore";
        case State::Complete:
            return "Complete";
        case State::Refused:
            return "Refused";
    }
    return "?";
}

struct Outcome {
    State state = State::NeedMore;
    std::size_t consumed = 0;
    std::string request;  // Complete: the parsed request, written out (rendered())
    Refusal refusal;
};

// The request as parsed, written as a plain request: its line, every header as received (the
// value trimmed), a blank line and the body (decoded, when it came chunked).
std::string rendered(const Request& r) {
    std::string out = std::string(r.method()) + " " + std::string(r.target()) +
                      (r.http11() ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n");
    for (auto [name, value] : r.headers()) {
        out += std::string(name) + ":" + (value.empty() ? "" : " ") + std::string(value) + "\r\n";
    }
    return out + "\r\n" + std::string(r.body());
}

Outcome outcome(RequestFramer& f, State s, std::string_view in) {
    Outcome o;
    o.state = s;
    if (s == State::Complete) {
        o.consumed = f.consumed();
        o.request = rendered(f.take(in));
    }
    if (s == State::Refused) o.refusal = f.refusal();
    return o;
}

Outcome feed_whole(const Limits& l, std::string_view in) {
    RequestFramer f(l);
    return outcome(f, f.feed(in), in);
}

// Feeds in[0..1), in[0..2), ... as a connection's buffer grows one byte per read.
Outcome feed_bytewise(const Limits& l, std::string_view in) {
    RequestFramer f(l);
    State s = f.feed(in.substr(0, 0));
    EXPECT_EQ(s, State::NeedMore);
    for (std::size_t n = 1; n <= in.size(); ++n) {
        s = f.feed(in.substr(0, n));
        if (s != State::NeedMore) return outcome(f, s, in.substr(0, n));
    }
    return outcome(f, s, in);
}

// Feeds in[0..split), then all of in.
Outcome feed_split(const Limits& l, std::string_view in, std::size_t split) {
    RequestFramer f(l);
    State s = f.feed(in.substr(0, split));
    if (s != State::NeedMore) return outcome(f, s, in.substr(0, split));
    return outcome(f, f.feed(in), in);
}

void expect_same(const Outcome& a, const Outcome& b, const std::string& how) {
    EXPECT_EQ(name(a.state), std::string(name(b.state))) << how;
    EXPECT_EQ(a.consumed, b.consumed) << how;
    EXPECT_EQ(a.request, b.request) << how;
    EXPECT_EQ(a.refusal.status, b.refusal.status) << how;
    EXPECT_EQ(a.refusal.code, b.refusal.code) << how;
}

// The whole input framed at once, then checked against every way of feeding it in pieces.
Outcome frame(const Limits& l, std::string_view in) {
    Outcome whole = feed_whole(l, in);
    expect_same(feed_bytewise(l, in), whole, "fed byte by byte");
    for (std::size_t split = 0; split <= in.size(); ++split) {
        expect_same(feed_split(l, in, split), whole, "split at " + std::to_string(split));
    }
    return whole;
}

std::string body_of(std::string_view request) {
    return std::string(request.substr(request.find("\r\n\r\n") + 4));
}

// --- Complete requests --------------------------------------------------------------------------

struct CompleteCase {
    const char* what;
    std::string in;
    std::string request;  // the parsed request, rendered(); empty: `in` as received
};

void PrintTo(const CompleteCase& c, std::ostream* os) {
    *os << c.what;
}

class Complete : public ::testing::TestWithParam<CompleteCase> {};

TEST_P(Complete, FramesTheRequestAtEverySplit) {
    const auto& c = GetParam();
    Outcome o = frame(Limits{}, c.in);
    ASSERT_EQ(name(o.state), std::string("Complete"));
    EXPECT_EQ(o.consumed, c.in.size());
    EXPECT_EQ(o.request, c.request.empty() ? c.in : c.request);
}

INSTANTIATE_TEST_SUITE_P(
    RequestFramer, Complete,
    ::testing::Values(
        CompleteCase{"get", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", ""},
        CompleteCase{"no_headers", "GET /x HTTP/1.1\r\nHost: a\r\n\r\n", ""},
        CompleteCase{"content_length",
                     "POST /r HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", ""},
        CompleteCase{"content_length_zero",
                     "POST /r HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", ""},
        CompleteCase{"content_length_spaces_and_case",
                     "POST /r HTTP/1.1\r\nHost: a\r\ncontent-LENGTH: \t 3 \t\r\n\r\nabc",
                     "POST /r HTTP/1.1\r\nHost: a\r\ncontent-LENGTH: 3\r\n\r\nabc"},
        CompleteCase{
            "content_length_repeated_same",
            "POST /r HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", ""},
        CompleteCase{"body_with_crlfs",
                     "POST /r HTTP/1.1\r\nHost: a\r\nContent-Length: 8\r\n\r\n\r\n\r\n\r\n\r\n",
                     ""},
        CompleteCase{"empty_header_value", "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n", ""},
        CompleteCase{
            "chunked",
            "POST /r HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-After: b\r\n\r\n"
            "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            "POST /r HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-After: b\r\n\r\n"
            "hello world"},
        CompleteCase{"chunked_last_header",
                     "POST /r HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                     "chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                     "POST /r HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nabc"},
        CompleteCase{"chunked_empty_body",
                     "POST /r HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                     "POST /r HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"},
        CompleteCase{"chunked_hex_sizes_both_cases",
                     "POST /r HTTP/1.1\r\nHost: a\r\ntransfer-encoding: Chunked\r\n\r\n"
                     "a\r\n0123456789\r\nB\r\nabcdefghijk\r\n00\r\n\r\n",
                     "POST /r HTTP/1.1\r\nHost: a\r\ntransfer-encoding: Chunked\r\n\r\n"
                     "0123456789abcdefghijk"},
        CompleteCase{"chunked_extensions",
                     "POST /r HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "4;name=value\r\nwiki\r\n5 ; quoted=\"a;b\"\r\npedia\r\n0;last\r\n\r\n",
                     "POST /r HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nwikipedia"},
        CompleteCase{"chunked_trailers",
                     "POST /r HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "2\r\nhi\r\n0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n",
                     "POST /r HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nhi"},
        CompleteCase{"chunked_data_looks_like_chunks",
                     "POST /r HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\n0\r\n\r\n\r\n0\r\n\r\n",
                     "POST /r HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
        CompleteCase{"expect_with_content_length",
                     "POST /r HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: "
                     "2\r\nX: y\r\n\r\nok",
                     ""},
        CompleteCase{"expect_with_chunked",
                     "POST /r HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: "
                     "100-continue\r\n\r\n"
                     "2\r\nok\r\n0\r\n\r\n",
                     "POST /r HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: "
                     "100-continue\r\n\r\nok"},
        CompleteCase{"expect_twice",
                     "POST /r HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nExpect: other\r\n"
                     "Content-Length: 2\r\n\r\nok",
                     ""},
        CompleteCase{"chunk_size_line_of_1024_bytes",
                     "POST /r HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;" +
                         std::string(1022, 'e') + "\r\nok\r\n0\r\n\r\n",
                     "POST /r HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nok"},
        CompleteCase{"expect_without_body",
                     "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", ""},
        // RFC 9112 §3.2 asks for Host in HTTP/1.1 only; it may be empty.
        CompleteCase{"http10_without_host", "GET / HTTP/1.0\r\n\r\n", ""},
        CompleteCase{"host_empty", "GET / HTTP/1.1\r\nHost:\r\n\r\n", ""},
        CompleteCase{"asterisk_form", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", ""},
        CompleteCase{"absolute_form", "GET http://a/b?c HTTP/1.1\r\nHost: a\r\n\r\n", ""},
        // Other control bytes and obs-text are let through: only NUL and a bare CR are refused.
        CompleteCase{"value_with_tab_and_obs_text",
                     "GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\x7f\xff\r\n\r\n", ""},
        CompleteCase{"one_authorization_and_one_host",
                     "GET / HTTP/1.1\r\nhost: a\r\nAuthorization: Bearer x\r\n\r\n", ""}),
    [](const auto& info) { return std::string(info.param.what); });

// The one parse every route reads: the path decoded once, up to the query; the fields by name.
TEST(RequestFramer, ParsesThePathOnceAndTheFieldsByName) {
    struct Case {
        std::string target;
        std::string path;
    };
    for (const auto& c : std::vector<Case>{
             {"/articles/5", "/articles/5"},
             {"/articles/5?x=1#", ""},  // refused below: a fragment
             {"/articles/a%2Fb%3Fc%25?q=%41", "/articles/a/b?c%"},
             {"/articles/%e2%82%AC", "/articles/\xe2\x82\xac"},
             {"/articles/x?", "/articles/x"},
             {"http://example.com/articles/7?y", "/articles/7"},
             {"http://example.com", "/"},
             {"https://example.com?q", "/"},
             {"*", "*"},
         }) {
        const std::string in = "GET " + c.target + " HTTP/1.1\r\nHost: a\r\n\r\n";
        RequestFramer f(Limits{});
        const State s = f.feed(in);
        if (c.path.empty()) {
            EXPECT_EQ(name(s), std::string("Refused")) << c.target;
            continue;
        }
        ASSERT_EQ(name(s), std::string("Complete")) << c.target;
        const Request r = f.take(in);
        EXPECT_EQ(r.path(), c.path) << c.target;
        EXPECT_EQ(r.target(), c.target);
    }
    const std::string in =
        "POST /r HTTP/1.0\r\nhost: h\r\nX-A:  1 \r\nx-a: 2\r\nConnection: Keep-Alive\r\n"
        "Content-Length: 2\r\n\r\nok";
    RequestFramer f(Limits{});
    ASSERT_EQ(name(f.feed(in)), std::string("Complete"));
    const Request r = f.take(in);
    EXPECT_EQ(r.header("X-a"), "1");  // the first of a repeated name, trimmed
    EXPECT_EQ(r.header("HOST"), "h");
    EXPECT_EQ(r.header("absent"), "");
    EXPECT_EQ(r.body(), "ok");
    EXPECT_FALSE(r.http11());
    EXPECT_FALSE(r.wants_close());  // HTTP/1.0 asking to keep the connection
}

TEST(RequestFramer, ClosesAsTheClientAsks) {
    for (const auto& [in, close] : std::vector<std::pair<std::string, bool>>{
             {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", false},
             {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", true},
             {"GET / HTTP/1.1\r\nHost: a\r\nConnection: x, Close\r\n\r\n", true},
             {"GET / HTTP/1.0\r\n\r\n", true},
             {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false},
         }) {
        RequestFramer f(Limits{});
        ASSERT_EQ(name(f.feed(in)), std::string("Complete"));
        EXPECT_EQ(f.take(in).wants_close(), close) << in;
    }
}

TEST(RequestFramer, NeedsMoreAtEveryProperPrefix) {
    const std::vector<std::string> requests = {
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /r HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        "POST /r HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
        "chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n",
    };
    for (const auto& in : requests) {
        for (std::size_t n = 0; n < in.size(); ++n) {
            RequestFramer f(Limits{});
            EXPECT_EQ(name(f.feed(std::string_view(in).substr(0, n))), std::string("NeedMore"))
                << n << " bytes of " << in;
        }
    }
}

TEST(RequestFramer, PipelinedRequestsAreFramedOneAtATime) {
    const std::vector<std::string> requests = {
        "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
        "POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
        "POST /4 HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nz",
        "GET /5 HTTP/1.1\r\nHost: a\r\n\r\n",
    };
    std::string all;
    for (const auto& r : requests) all += r;

    std::string_view rest = all;
    RequestFramer f(Limits{});
    for (const auto& r : requests) {
        ASSERT_EQ(name(f.feed(rest)), std::string("Complete")) << r;
        EXPECT_EQ(f.consumed(), r.size()) << r;
        EXPECT_EQ(feed_whole(Limits{}, rest).consumed, r.size());
        rest.remove_prefix(f.consumed());
        f.reset();
    }
    EXPECT_TRUE(rest.empty());
    EXPECT_EQ(name(f.feed(rest)), std::string("NeedMore"));

    // A partial second request after a complete one does not change where the first ends.
    const std::string two = requests[1] + requests[2].substr(0, 20);
    for (std::size_t n = requests[1].size(); n <= two.size(); ++n) {
        Outcome o = feed_whole(Limits{}, std::string_view(two).substr(0, n));
        EXPECT_EQ(name(o.state), std::string("Complete"));
        EXPECT_EQ(o.consumed, requests[1].size());
        EXPECT_EQ(o.request, requests[1]);
    }
}

TEST(RequestFramer, ChunkedBodyOfManySmallChunks) {
    std::string in = "POST /r HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    std::string body;
    for (int i = 0; i < 200; ++i) {
        std::string piece(static_cast<std::size_t>(i % 17 + 1), static_cast<char>('a' + i % 26));
        char size[8];
        std::snprintf(size, sizeof(size), "%zx", piece.size());
        in += std::string(size) + "\r\n" + piece + "\r\n";
        body += piece;
    }
    in += "0\r\n\r\n";
    Outcome o = frame(Limits{}, in);
    ASSERT_EQ(name(o.state), std::string("Complete"));
    EXPECT_EQ(o.consumed, in.size());
    EXPECT_EQ(body_of(o.request), body);
}

TEST(RequestFramer, ExpectContinueIsWantedOnlyWhileTheBodyIsMissing) {
    for (std::string in : {
             std::string("POST /r HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: "
                         "4\r\n\r\nbody"),
             std::string(
                 "POST /r HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: "
                 "chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n"),
         }) {
        const std::size_t head = in.find("\r\n\r\n") + 4;
        RequestFramer f(Limits{});
        for (std::size_t n = 0; n <= in.size(); ++n) {
            State s = f.feed(std::string_view(in).substr(0, n));
            if (n < in.size()) {
                ASSERT_EQ(name(s), std::string("NeedMore")) << n;
                EXPECT_EQ(f.wants_continue(), n >= head) << n << " bytes of " << in;
            } else {
                ASSERT_EQ(name(s), std::string("Complete"));
                EXPECT_FALSE(f.wants_continue());
                EXPECT_EQ(f.take(in).body(), "body");
            }
        }
    }
    // Without the header, or with another expectation, nothing is wanted.
    for (std::string in :
         {std::string("POST /r HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n"),
          std::string("POST /r HTTP/1.1\r\nHost: a\r\nExpect: x\r\nContent-Length: 4\r\n\r\n")}) {
        RequestFramer f(Limits{});
        EXPECT_EQ(name(f.feed(in)), std::string("NeedMore"));
        EXPECT_FALSE(f.wants_continue()) << in;
    }
    // The header alone, before the blank line, is not enough: the head may still be refused.
    RequestFramer f(Limits{});
    EXPECT_EQ(name(f.feed("POST /r HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n")),
              std::string("NeedMore"));
    EXPECT_FALSE(f.wants_continue());
}

TEST(RequestFramer, ExpectContinueOverTheLimitIsRefusedNotContinued) {
    Limits l;
    l.max_body_bytes = 10;
    RequestFramer f(l);
    EXPECT_EQ(
        name(f.feed(
            "POST /r HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n")),
        std::string("Refused"));
    EXPECT_EQ(f.refusal().status, 413);
}

TEST(RequestFramer, LimitsAreInclusive) {
    Limits l;
    l.max_request_line = 32;
    l.max_header_bytes = 128;
    l.max_headers = 3;
    l.max_body_bytes = 10;

    // A request line of exactly the limit (without its CRLF) passes; one byte more is refused.
    const std::string line32 = "GET /" + std::string(32 - 14, 'a') + " HTTP/1.0";
    ASSERT_EQ(line32.size(), 32u);
    EXPECT_EQ(name(frame(l, line32 + "\r\n\r\n").state), std::string("Complete"));
    EXPECT_EQ(frame(l, "GET /a" + line32.substr(5) + "\r\n\r\n").refusal.status, 414);

    // The same for a header line.
    const std::string header32 = "X: " + std::string(29, 'v');
    EXPECT_EQ(name(frame(l, "GET / HTTP/1.0\r\n" + header32 + "\r\n\r\n").state),
              std::string("Complete"));
    EXPECT_EQ(frame(l, "GET / HTTP/1.0\r\n" + header32 + "v\r\n\r\n").refusal.status, 431);

    // Head bytes (request line, header lines and the blank line, CRLFs included).
    Limits wide = l;
    wide.max_request_line = 64;
    std::string head = "GET / HTTP/1.0\r\nA: " + std::string(20, 'a') +
                       "\r\nB: " + std::string(20, 'b') + "\r\nC: ";
    head += std::string(128 - head.size() - 4, 'c') + "\r\n\r\n";
    ASSERT_EQ(head.size(), 128u);
    EXPECT_EQ(name(frame(wide, head).state), std::string("Complete"));
    head.insert(head.size() - 4, "c");
    EXPECT_EQ(frame(wide, head).refusal.status, 431);

    EXPECT_EQ(name(frame(l, "GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n").state),
              std::string("Complete"));
    EXPECT_EQ(name(frame(l, "POST / HTTP/1.0\r\nContent-Length: 10\r\n\r\n0123456789").state),
              std::string("Complete"));
    EXPECT_EQ(name(frame(l,
                         "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n")
                       .state),
              std::string("Complete"));
}

// --- Refusals -----------------------------------------------------------------------------------

struct RefusalCase {
    const char* what;
    std::string in;
    int status;
    const char* code;
};

void PrintTo(const RefusalCase& c, std::ostream* os) {
    *os << c.what;
}

Limits small_limits() {
    Limits l;
    l.max_request_line = 64;
    l.max_header_bytes = 256;
    l.max_headers = 4;
    l.max_body_bytes = 100;
    return l;
}

class Refused : public ::testing::TestWithParam<RefusalCase> {};

TEST_P(Refused, IsRefusedAtEverySplit) {
    const auto& c = GetParam();
    Outcome o = frame(small_limits(), c.in);
    ASSERT_EQ(name(o.state), std::string("Refused")) << c.in;
    EXPECT_EQ(o.refusal.status, c.status);
    EXPECT_EQ(o.refusal.code, c.code);
    EXPECT_FALSE(o.refusal.detail.empty());

    // Once refused, always refused: more bytes change nothing.
    RequestFramer f(small_limits());
    ASSERT_EQ(name(f.feed(c.in)), std::string("Refused"));
    EXPECT_EQ(name(f.feed(c.in + "GET / HTTP/1.1\r\nHost: a\r\n\r\n")), std::string("Refused"));
    EXPECT_EQ(f.refusal().status, c.status);
}

const std::string kPost = "POST /r HTTP/1.1\r\nHost: a\r\n";
const std::string kChunked = kPost + "Transfer-Encoding: chunked\r\n\r\n";
const std::string kNul(1, '\0');

INSTANTIATE_TEST_SUITE_P(
    RequestFramer, Refused,
    ::testing::Values(
        // Limits. The partial line is refused as soon as it is too long, before its CRLF.
        RefusalCase{"long_request_line",
                    "GET /" + std::string(100, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414,
                    "uri_too_long"},
        RefusalCase{"long_request_line_unterminated", "GET /" + std::string(100, 'a'), 414,
                    "uri_too_long"},
        RefusalCase{"long_header_line",
                    "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(70, 'v') + "\r\n\r\n", 431,
                    "headers_too_large"},
        RefusalCase{"long_header_line_unterminated",
                    "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(70, 'v'), 431,
                    "headers_too_large"},
        RefusalCase{"header_bytes",
                    "GET / HTTP/1.1\r\nHost: a\r\nA: " + std::string(58, 'a') +
                        "\r\nB: " + std::string(58, 'b') + "\r\nC: " + std::string(58, 'c') +
                        "\r\nD: " + std::string(58, 'd') + "\r\n\r\n",
                    431, "headers_too_large"},
        RefusalCase{"header_bytes_unterminated",
                    "GET / HTTP/1.1\r\nHost: a\r\nA: " + std::string(58, 'a') +
                        "\r\nB: " + std::string(58, 'b') + "\r\nC: " + std::string(58, 'c') +
                        "\r\nD: " + std::string(58, 'd'),
                    431, "headers_too_large"},
        RefusalCase{"too_many_headers",
                    "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n",
                    431, "headers_too_large"},
        RefusalCase{"content_length_over_limit", kPost + "Content-Length: 101\r\n\r\n", 413,
                    "payload_too_large"},
        RefusalCase{"content_length_huge", kPost + "Content-Length: 18446744073709551615\r\n\r\n",
                    413, "payload_too_large"},
        RefusalCase{"chunked_over_limit_in_one_chunk", kChunked + "65\r\n", 413,
                    "payload_too_large"},
        RefusalCase{"chunked_over_limit_in_total",
                    kChunked + "32\r\n" + std::string(50, 'x') + "\r\n32\r\n" +
                        std::string(50, 'y') + "\r\n1\r\nz\r\n0\r\n\r\n",
                    413, "payload_too_large"},
        RefusalCase{"chunked_trailers_too_large",
                    kChunked + "0\r\nT: " + std::string(300, 't') + "\r\n\r\n", 431,
                    "headers_too_large"},

        // Framing that two parsers could read differently.
        RefusalCase{"content_length_and_chunked",
                    kPost + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"chunked_and_content_length",
                    kPost + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"content_length_zero_and_chunked",
                    kPost + "Content-Length: 0\r\nX: y\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"two_content_lengths",
                    kPost + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400,
                    "bad_request"},
        RefusalCase{"two_content_lengths_apart",
                    kPost + "Content-Length: 5\r\nX: y\r\ncontent-length: 50\r\n\r\nhello", 400,
                    "bad_request"},
        RefusalCase{"content_length_list", kPost + "Content-Length: 5, 5\r\n\r\nhello", 400,
                    "bad_request"},
        RefusalCase{"content_length_words", kPost + "Content-Length: five\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"content_length_negative", kPost + "Content-Length: -1\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"content_length_plus", kPost + "Content-Length: +5\r\n\r\nhello", 400,
                    "bad_request"},
        RefusalCase{"content_length_hex", kPost + "Content-Length: 0x5\r\n\r\nhello", 400,
                    "bad_request"},
        RefusalCase{"content_length_empty", kPost + "Content-Length: \r\n\r\n", 400, "bad_request"},
        RefusalCase{"content_length_inner_space", kPost + "Content-Length: 1 2\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"transfer_encoding_gzip", kPost + "Transfer-Encoding: gzip\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"transfer_encoding_gzip_chunked",
                    kPost + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"transfer_encoding_identity", kPost + "Transfer-Encoding: identity\r\n\r\n",
                    400, "bad_request"},

        // Lines.
        RefusalCase{"bare_lf_request_line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "bad_request"},
        RefusalCase{"bare_lf_header", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400, "bad_request"},
        RefusalCase{"bare_lf_blank_line", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400, "bad_request"},
        RefusalCase{"bare_lf_only", "\n", 400, "bad_request"},
        RefusalCase{"empty_request_line", "\r\nGET / HTTP/1.1\r\n\r\n", 400, "bad_request"},
        RefusalCase{"header_without_colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", 400, "bad_request"},
        RefusalCase{"header_empty_name", "GET / HTTP/1.1\r\n: a\r\n\r\n", 400, "bad_request"},
        RefusalCase{"header_space_before_colon", kPost + "Content-Length : 5\r\n\r\nhello", 400,
                    "bad_request"},
        RefusalCase{"header_obs_fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"header_obs_fold_tab", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"header_first_line_folded", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400,
                    "bad_request"},

        // Chunks.
        RefusalCase{"chunk_size_not_hex", kChunked + "zz\r\n", 400, "bad_request"},
        RefusalCase{"chunk_size_empty", kChunked + "\r\nhello\r\n0\r\n\r\n", 400, "bad_request"},
        RefusalCase{"chunk_size_only_extension", kChunked + ";ext\r\n", 400, "bad_request"},
        RefusalCase{"chunk_size_signed", kChunked + "+5\r\nhello\r\n0\r\n\r\n", 400, "bad_request"},
        RefusalCase{"chunk_size_prefixed", kChunked + "0x5\r\nhello\r\n0\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"chunk_size_too_many_digits", kChunked + "0000000000000000005\r\n", 400,
                    "bad_request"},
        RefusalCase{"chunk_size_line_too_long", kChunked + "5;" + std::string(1100, 'e'), 400,
                    "bad_request"},
        RefusalCase{"chunk_size_line_too_long_terminated",
                    kChunked + "5;" + std::string(1100, 'e') + "\r\nhello\r\n0\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"chunk_size_line_of_1025_bytes",
                    kChunked + "5;" + std::string(1023, 'e') + "\r\nhello\r\n0\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"chunk_data_without_crlf", kChunked + "5\r\nhelloXX0\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"chunk_data_longer_than_size", kChunked + "3\r\nhello\r\n0\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"chunk_data_lf_only", kChunked + "5\r\nhello\n0\r\n\r\n", 400, "bad_request"},
        RefusalCase{"chunk_size_bare_lf", kChunked + "5\nhello\r\n0\r\n\r\n", 400, "bad_request"},
        RefusalCase{"chunk_extension_bare_lf",
                    kChunked + "5;a\nGET /smuggled HTTP/1.1\r\nhello\r\n0\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"trailer_bare_lf", kChunked + "0\r\n\nGET /smuggled HTTP/1.1\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"trailers_too_large_before_a_bare_lf",
                    kChunked + "0\r\nT: " + std::string(300, 't') + "\nX: y\r\n\r\n", 431,
                    "headers_too_large"},
        RefusalCase{"last_chunk_bare_lf", kChunked + "0\n\r\n", 400, "bad_request"},

        // Bytes no field may hold (RFC 9110 §5.5): httplib would cut a value at a NUL, so
        // "Bearer <secret>\0junk" would pass as "Bearer <secret>".
        RefusalCase{"header_value_nul",
                    "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer s" + kNul + "junk\r\n\r\n",
                    400, "bad_request"},
        RefusalCase{"header_value_ends_in_nul",
                    "GET / HTTP/1.1\r\nHost: a\r\nX: a" + kNul + "\r\n\r\n", 400, "bad_request"},
        RefusalCase{"header_name_nul", "GET / HTTP/1.1\r\nHost: a\r\nX" + kNul + ": a\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"header_value_bare_cr", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"header_value_cr_before_crlf", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n",
                    400, "bad_request"},
        RefusalCase{"request_line_nul", "GET /a" + kNul + " HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"request_line_bare_cr", "GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                    "bad_request"},

        // Fields that must appear once: which one counts would be a guess.
        RefusalCase{"two_authorizations",
                    "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer a\r\n"
                    "authorization: Bearer b\r\n\r\n",
                    400, "bad_request"},
        RefusalCase{"two_same_authorizations",
                    "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer a\r\n"
                    "AUTHORIZATION: Bearer a\r\n\r\n",
                    400, "bad_request"},
        RefusalCase{"two_hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"http11_without_host", "GET / HTTP/1.1\r\n\r\n", 400, "bad_request"},
        RefusalCase{"http11_without_host_with_body",
                    "POST /r HTTP/1.1\r\nContent-Length: 2\r\n\r\nok", 400, "bad_request"},

        // Request lines httplib cannot parse: refused here, so that the connection ends.
        RefusalCase{"http2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "bad_request"},
        RefusalCase{"http09", "GET /\r\n", 400, "bad_request"},
        RefusalCase{"version_lower_case", "GET / http/1.1\r\nHost: a\r\n\r\n", 400, "bad_request"},
        RefusalCase{"version_1_2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 400, "bad_request"},
        RefusalCase{"request_line_two_spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"request_line_tab", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_request"},
        // The target: a path (or a URL), without a fragment, its escapes whole.
        RefusalCase{"target_fragment", "GET /articles/x#y HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"target_not_a_path", "GET articles HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"target_percent_short", "GET /a%4 HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"target_percent_not_hex", "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"target_percent_sign", "GET /a%+1 HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"request_line_trailing_space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"request_line_four_parts", "GET / x HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                    "bad_request"},
        RefusalCase{"method_not_a_token", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_request"},
        RefusalCase{"method_unknown", "FOO / HTTP/1.1\r\nHost: a\r\n\r\n", 501, "not_implemented"},
        RefusalCase{"method_lower_case", "get / HTTP/1.1\r\nHost: a\r\n\r\n", 501,
                    "not_implemented"}),
    [](const auto& info) { return std::string(info.param.what); });

// Each refusal says what was wrong, with the limit it broke.
TEST(RequestFramer, RefusalDetailNamesTheLimit) {
    Outcome o = feed_whole(small_limits(), kPost + "Content-Length: 101\r\n\r\n");
    EXPECT_NE(o.refusal.detail.find("100"), std::string::npos) << o.refusal.detail;
    EXPECT_NE(o.refusal.detail.find("101"), std::string::npos) << o.refusal.detail;
    o = feed_whole(small_limits(), "GET /" + std::string(100, 'a'));
    EXPECT_NE(o.refusal.detail.find("64"), std::string::npos) << o.refusal.detail;
    o = feed_whole(small_limits(), kPost + "Transfer-Encoding: br\r\n\r\n");
    EXPECT_NE(o.refusal.detail.find("br"), std::string::npos) << o.refusal.detail;
}

// Each refusal names what was wrong, and never echoes a header's value (it may be a secret).
TEST(RequestFramer, RefusalDetailNamesWhatWasWrong) {
    struct Expect {
        std::string in;
        std::vector<std::string> named;
    };
    const std::vector<Expect> cases = {
        {"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer s3cret" + kNul + "junk\r\n\r\n",
         {"Authorization", "NUL"}},
        {"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer s3cret\rjunk\r\n\r\n",
         {"Authorization", "CR"}},
        {"GET /a" + kNul + " HTTP/1.1\r\n", {"request line", "NUL"}},
        {"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer s3cret\r\n"
         "Authorization: Bearer s3cret\r\n\r\n",
         {"Authorization"}},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", {"Host"}},
        {"GET / HTTP/1.1\r\n\r\n", {"Host", "HTTP/1.1"}},
        {"PRI * HTTP/2.0\r\n\r\n", {"HTTP/2.0"}},
        {"GET /\r\n", {"request line"}},
        {"FOO / HTTP/1.1\r\n", {"FOO"}},
    };
    for (const auto& c : cases) {
        Outcome o = feed_whole(Limits{}, c.in);
        ASSERT_EQ(name(o.state), std::string("Refused")) << c.in;
        for (const auto& word : c.named) {
            EXPECT_NE(o.refusal.detail.find(word), std::string::npos)
                << o.refusal.detail << " should name " << word;
        }
        EXPECT_EQ(o.refusal.detail.find("s3cret"), std::string::npos) << o.refusal.detail;
    }
}

// --- reset() ------------------------------------------------------------------------------------

// One-byte chunks with long extensions: the decoded body stays tiny, the raw bytes do not.
TEST(RequestFramer, ChunkFramingCannotBufferWithoutLimit) {
    Limits l;
    l.max_body_bytes = 1000;
    RequestFramer f(l);
    std::string in = kPost + "Transfer-Encoding: chunked\r\n\r\n";
    const std::string chunk = "1;" + std::string(1000, 'e') + "\r\nx\r\n";
    while (f.feed(in) == RequestFramer::State::NeedMore && in.size() < 1'000'000) in += chunk;
    ASSERT_EQ(name(f.feed(in)), std::string("Refused"));
    EXPECT_EQ(f.refusal().status, 413);
    EXPECT_EQ(f.refusal().code, "payload_too_large");
    EXPECT_LT(in.size(), 2 * l.max_body_bytes + 65536 + 2 * chunk.size());
}

TEST(RequestFramer, ResetForgetsTheRequestButKeepsTheLimits) {
    RequestFramer f(small_limits());
    const std::string chunked = kChunked + "3\r\nabc\r\n0\r\n\r\n";
    ASSERT_EQ(name(f.feed(chunked)), std::string("Complete"));
    ASSERT_EQ(f.take(chunked).body(), "abc");

    // After reset a plain request is parsed anew: nothing of the chunked one is left.
    f.reset();
    EXPECT_FALSE(f.wants_continue());
    const std::string plain = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    ASSERT_EQ(name(f.feed(plain)), std::string("Complete"));
    EXPECT_EQ(f.consumed(), plain.size());
    const Request r = f.take(plain);
    EXPECT_EQ(r.method(), "GET");
    EXPECT_EQ(r.body(), "");
    EXPECT_EQ(r.headers().size(), 1u);

    // A refusal is forgotten too.
    f.reset();
    ASSERT_EQ(name(f.feed(kPost + "Content-Length: x\r\n\r\n")), std::string("Refused"));
    f.reset();
    EXPECT_TRUE(f.refusal().code.empty());
    ASSERT_EQ(name(f.feed(plain)), std::string("Complete"));

    // The limits stay: still 413 above 100 bytes after a reset.
    f.reset();
    ASSERT_EQ(name(f.feed(kPost + "Content-Length: 101\r\n\r\n")), std::string("Refused"));
    EXPECT_EQ(f.refusal().status, 413);

    // Half a head, then reset: the next request starts from scratch (no header count carried).
    f.reset();
    ASSERT_EQ(name(f.feed("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n")),
              std::string("NeedMore"));
    f.reset();
    ASSERT_EQ(name(f.feed("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")),
              std::string("Complete"));
}

}  // namespace
}  // namespace revalidator::http
