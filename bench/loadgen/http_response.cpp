#include "http_response.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace loadgen {

namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

bool icontains(std::string_view haystack, std::string_view needle) {
    for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
        if (iequals(haystack.substr(i, needle.size()), needle)) return true;
    }
    return false;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

template <class T>
bool parse_number(std::string_view s, T& out, int base = 10) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
    return ec == std::errc() && end == s.data() + s.size();
}

enum class Chunks { Incomplete, Complete, Invalid };

// Walks chunked framing from `pos`; on Complete, `pos` is just past the last CRLF.
Chunks chunked_end(std::string_view buf, std::size_t& pos) {
    while (true) {
        auto eol = buf.find("\r\n", pos);
        if (eol == std::string_view::npos) return Chunks::Incomplete;
        std::string_view size_text = buf.substr(pos, eol - pos);
        size_text = trim(size_text.substr(0, size_text.find(';')));  // drop chunk extensions
        std::size_t size = 0;
        if (!parse_number(size_text, size, 16)) return Chunks::Invalid;
        pos = eol + 2;
        if (size == 0) break;
        if (buf.size() < pos + size + 2) return Chunks::Incomplete;
        if (buf.substr(pos + size, 2) != "\r\n") return Chunks::Invalid;
        pos += size + 2;
    }
    // Trailer fields, then an empty line.
    while (true) {
        auto eol = buf.find("\r\n", pos);
        if (eol == std::string_view::npos) return Chunks::Incomplete;
        bool empty = eol == pos;
        pos = eol + 2;
        if (empty) return Chunks::Complete;
    }
}

}  // namespace

ResponseParser::State ResponseParser::parse(std::string_view buf) {
    auto head_end = buf.find("\r\n\r\n");
    if (head_end == std::string_view::npos) {
        return buf.size() > 64 * 1024 ? State::Invalid : State::Incomplete;
    }
    std::string_view head = buf.substr(0, head_end + 2);
    auto line_end = head.find("\r\n");
    std::string_view status_line = head.substr(0, line_end);
    // "HTTP/1.1 202 Accepted"
    if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/") return State::Invalid;
    bool http10 = status_line.substr(5, 3) == "1.0";
    if (!parse_number(status_line.substr(9, 3), status_)) return State::Invalid;

    bool chunked = false, has_length = false, keep_alive = false;
    close_ = false;
    std::size_t length = 0;
    for (std::size_t pos = line_end + 2; pos < head.size();) {
        auto eol = head.find("\r\n", pos);
        std::string_view line = head.substr(pos, eol - pos);
        pos = eol + 2;
        auto colon = line.find(':');
        if (colon == std::string_view::npos) return State::Invalid;
        std::string_view name = line.substr(0, colon), value = trim(line.substr(colon + 1));
        if (iequals(name, "content-length")) {
            if (!parse_number(value, length)) return State::Invalid;
            has_length = true;
        } else if (iequals(name, "transfer-encoding")) {
            chunked = icontains(value, "chunked");
        } else if (iequals(name, "connection")) {
            close_ = icontains(value, "close");
            keep_alive = icontains(value, "keep-alive");
        }
    }
    if (http10 && !keep_alive) close_ = true;

    std::size_t body = head_end + 4;
    bool no_body = status_ / 100 == 1 || status_ == 204 || status_ == 304;
    if (no_body) {
        consumed_ = body;
    } else if (chunked) {
        std::size_t pos = body;
        switch (chunked_end(buf, pos)) {
            case Chunks::Incomplete:
                return State::Incomplete;
            case Chunks::Invalid:
                return State::Invalid;
            case Chunks::Complete:
                consumed_ = pos;
        }
    } else if (has_length) {
        if (buf.size() < body + length) return State::Incomplete;
        consumed_ = body + length;
    } else {
        // A body delimited by closing the connection: never sent by a webhook receiver worth
        // measuring, and it would leave nothing to measure keep-alive with.
        return State::Invalid;
    }
    return State::Complete;
}

}  // namespace loadgen
