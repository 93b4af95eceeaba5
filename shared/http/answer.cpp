#include "answer.hpp"

#include <nlohmann/json.hpp>

namespace revalidator::http {

namespace {

const char* reason_phrase(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 202:
            return "Accepted";
        case 204:
            return "No Content";
        case 304:
            return "Not Modified";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 413:
            return "Content Too Large";
        case 414:
            return "URI Too Long";
        case 415:
            return "Unsupported Media Type";
        case 422:
            return "Unprocessable Content";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 503:
            return "Service Unavailable";
        default:
            return "";  // RFC 9112 §4: the reason phrase may be empty
    }
}

}  // namespace

Answer render(const Response& res, bool head_only, bool http11, bool close) {
    const int status = res.status();
    const bool bodiless = status == 304 || status == 204 || status < 200;
    Answer a;
    a.head.reserve(160);
    a.head += "HTTP/1.1 ";
    a.head += std::to_string(status);
    a.head += ' ';
    a.head += reason_phrase(status);
    a.head += "\r\n";
    for (const auto& [name, value] : res.headers()) {
        a.head += name;
        a.head += ": ";
        a.head += value;
        a.head += "\r\n";
    }
    if (!bodiless) {
        a.head += "Content-Length: ";
        a.head += std::to_string(res.body().size());
        a.head += "\r\n";
    }
    if (close) {
        a.head += "Connection: close\r\n";
    } else if (!http11) {
        a.head += "Connection: keep-alive\r\n";
    }
    a.head += "\r\n";
    if (!bodiless && !head_only && !res.body().empty()) a.body = res.shared_body();
    return a;
}

Answer refusal_answer(const Refusal& r) {
    Response res;
    res.set_status(r.status);
    res.set_content(error_body(r.code, r.detail), "application/json");
    return render(res, false, true, true);
}

std::string error_body(const std::string& code, const std::string& detail) {
    nlohmann::json body = {{"error", code}, {"detail", detail}};
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace revalidator::http
