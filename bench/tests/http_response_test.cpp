// The response reader decides when a request is done; a framing mistake would show up as
// timeouts or protocol errors that the server never caused.
#include <gtest/gtest.h>

#include "http_response.hpp"

using loadgen::ResponseParser;
using State = ResponseParser::State;

TEST(ResponseParser, ContentLengthBody) {
    ResponseParser p;
    std::string r = "HTTP/1.1 202 Accepted\r\nContent-Length: 17\r\n\r\n{\"received\":true}";
    EXPECT_EQ(p.parse(r.substr(0, 30)), State::Incomplete);
    EXPECT_EQ(p.parse(r.substr(0, r.size() - 1)), State::Incomplete);
    ASSERT_EQ(p.parse(r), State::Complete);
    EXPECT_EQ(p.status(), 202);
    EXPECT_FALSE(p.close());
    EXPECT_EQ(p.consumed(), r.size());
}

TEST(ResponseParser, ChunkedBodyWithExtensionAndTrailer) {
    ResponseParser p;
    std::string r =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;ext=1\r\nhello\r\n0\r\nX-Trailer: y\r\n\r\n";
    EXPECT_EQ(p.parse(r.substr(0, r.size() - 2)), State::Incomplete);
    ASSERT_EQ(p.parse(r), State::Complete);
    EXPECT_EQ(p.status(), 200);
    EXPECT_EQ(p.consumed(), r.size());
}

TEST(ResponseParser, ConnectionCloseAndHttp10) {
    ResponseParser p;
    ASSERT_EQ(p.parse("HTTP/1.1 503 Busy\r\nconnection: Close\r\ncontent-length: 0\r\n\r\n"),
              State::Complete);
    EXPECT_EQ(p.status(), 503);
    EXPECT_TRUE(p.close());
    ASSERT_EQ(p.parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"), State::Complete);
    EXPECT_TRUE(p.close());
    ASSERT_EQ(p.parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"),
              State::Complete);
    EXPECT_FALSE(p.close());
}

TEST(ResponseParser, NoBodyStatuses) {
    ResponseParser p;
    ASSERT_EQ(p.parse("HTTP/1.1 204 No Content\r\n\r\n"), State::Complete);
    EXPECT_EQ(p.consumed(), 27u);
}

TEST(ResponseParser, RejectsWhatItCannotFrame) {
    ResponseParser p;
    EXPECT_EQ(p.parse("garbage\r\n\r\n"), State::Invalid);
    EXPECT_EQ(p.parse("HTTP/1.1 200 OK\r\n\r\nbody until close"), State::Invalid);
    EXPECT_EQ(p.parse("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"), State::Invalid);
    EXPECT_EQ(p.parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
              State::Invalid);
}
