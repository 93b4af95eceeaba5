// Which handler answers a request, and the steps every answer takes whatever thread makes it:
// the pre-routing hook (the 405s), the route's handler (an exception becomes a JSON 500 that
// closes the connection, never a crash and never its message), the error hook on a status of
// 400 or more, the logger, and render(). Internal to the server (http_server.cpp).
#pragma once

#include <algorithm>
#include <cctype>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "answer.hpp"
#include "http_server.hpp"

namespace revalidator::http {

class Server::Router {
  public:
    static constexpr int kLoop = -1;  // the lane of a route answered on the loop

    struct Route {
        std::string method;
        std::regex pattern;
        // The pattern, when nothing in it is regex syntax: a path matches it by comparison, with
        // no run of the regex engine on every request.
        std::optional<std::string> literal;
        Handler one;
        BatchHandler batch;  // empty: the route is not batched
        int lane = kLoop;
        int overflow = kLoop;  // where a batch's deferred requests go
    };

    static Route route(const char* method, const std::string& pattern, Handler handler) {
        Route r;
        r.method = method;
        r.pattern = std::regex(pattern);
        if (std::all_of(pattern.begin(), pattern.end(), [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' ||
                       c == '-';
            })) {
            r.literal = pattern;
        }
        r.one = std::move(handler);
        return r;
    }
    void add(Route route) { routes_.push_back(std::move(route)); }

    // The route whose method and pattern match `req` (a GET route matches HEAD too), with its
    // capture groups stored in `req`; nullptr when none does.
    const Route* find(Request& req) const;
    // Whether the pre-routing hook answered `req`, into `res`.
    bool preroute(const Request& req, Response& res) const;
    // `handler`'s answer in `res`; false when it threw (`res` is then a 500 and the connection
    // must close).
    bool run(const Handler& handler, const Request& req, Response& res) const;
    // The bytes to write for `res`, after the error hook and the logger.
    Answer finish(const Request& req, Response& res, bool close) const;

    Hook pre_routing;
    Hook on_error;
    Logger logger;

  private:
    std::vector<Route> routes_;
};

// 500 for a handler that failed: no detail of the failure reaches the client.
void internal_error(Response& res);

}  // namespace revalidator::http
