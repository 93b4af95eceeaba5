#include "router.hpp"

#include "runtime/log.hpp"

namespace revalidator::http {

namespace {

// A hook or logger is ours, yet it runs for every request: a failure of one is logged and the
// answer goes on as it was.
template <class F>
bool guarded(const char* what, F&& f) {
    try {
        return f();
    } catch (const std::exception& e) {
        log::error("an HTTP hook failed", {{"hook", what}, {"error", e.what()}});
    } catch (...) {
        log::error("an HTTP hook failed", {{"hook", what}});
    }
    return false;
}

}  // namespace

void internal_error(Response& res) {
    res = Response();
    res.set_status(500);
    res.set_content(error_body("internal_error",
                               "the server failed while answering; the failure is in its log"),
                    "application/json");
}

const Server::Router::Route* Server::Router::find(Request& req) const {
    const std::string_view method = req.method() == "HEAD" ? "GET" : req.method();
    const std::string_view path = req.path();
    for (const auto& r : routes_) {
        if (r.method != method) continue;
        if (r.literal) {
            if (path != *r.literal) continue;
            req.set_matches({{0, path.size()}});  // the whole path, as the regex's group 0
            return &r;
        }
        std::match_results<std::string_view::const_iterator> m;
        if (!std::regex_match(path.begin(), path.end(), m, r.pattern)) continue;
        std::vector<std::pair<std::size_t, std::size_t>> groups;
        for (std::size_t i = 0; i < m.size(); ++i) {
            groups.emplace_back(m[i].matched ? static_cast<std::size_t>(m.position(i)) : 0,
                                m[i].matched ? static_cast<std::size_t>(m.length(i)) : 0);
        }
        req.set_matches(std::move(groups));
        return &r;
    }
    return nullptr;
}

bool Server::Router::preroute(const Request& req, Response& res) const {
    return pre_routing && guarded("pre_routing", [&] { return pre_routing(req, res); });
}

bool Server::Router::run(const Handler& handler, const Request& req, Response& res) const {
    try {
        handler(req, res);
        return true;
    } catch (const std::exception& e) {
        log::error("a request's handler failed; answered 500",
                   {{"method", req.method()}, {"path", req.path()}, {"error", e.what()}});
    } catch (...) {
        log::error("a request's handler failed; answered 500",
                   {{"method", req.method()}, {"path", req.path()}});
    }
    internal_error(res);
    return false;
}

Answer Server::Router::finish(const Request& req, Response& res, bool close) const {
    if (res.status() >= 400 && on_error) guarded("error", [&] { return on_error(req, res); });
    if (logger) {
        guarded("logger", [&] {
            logger(req, res);
            return true;
        });
    }
    return render(res, req.method() == "HEAD", req.http11(), close);
}

}  // namespace revalidator::http
