#include "read_routes.hpp"

#include "cache_key.hpp"
#include "gzip.hpp"

namespace revalidator::ingress {

namespace {

// `prefix` passed check_prefix (no whitespace or control bytes); this escapes what a regular
// expression would read as syntax.
std::string escape(std::string_view prefix) {
    std::string out;
    for (char c : prefix) {
        if (std::string_view(".^$|()[]{}*+?\\").find(c) != std::string_view::npos) out += '\\';
        out += c;
    }
    return out;
}

std::string list_pattern(std::string_view prefix) {
    return escape(prefix);
}

std::string row_pattern(std::string_view prefix) {
    return escape(prefix) + "/(.+)";
}

void answer(const ReadRouteContext& ctx, const http::Request& req, http::Response& res, bool row) {
    if (ctx.read_auth) {
        if (auto bad = ctx.read_auth->check(req.header("Authorization"))) {
            res.set_header("WWW-Authenticate", "Bearer realm=\"reads\"");
            http::reject(res, 401, "unauthorized", *bad);
            return;
        }
    }
    const Conditions c{.if_none_match = req.header("If-None-Match"),
                       .gzip = accepts_gzip(req.header("Accept-Encoding"))};
    auto a = row ? ctx.reads.row(req.match(1), c) : ctx.reads.list(c);
    if (a.status == 200 || a.status == 304) {
        res.set_header("ETag", a.etag);
        res.set_header("Cache-Control", ctx.cache_control);
        res.set_header("Vary", "Accept-Encoding");
        if (a.gzip) res.set_header("Content-Encoding", "gzip");
        if (a.status == 304) {
            res.set_status(304);
        } else {
            res.set_content(std::move(a.body), "application/json");
        }
        return;
    }
    if (a.status == 503) res.set_header("Retry-After", "1");
    http::reject(res, a.status, a.error, a.detail);
}

// The row routes' batch hook: the rows of a batch, of any collection, in one multi-get. A row
// found is ready, and so is an id that cannot be a key (its 404 needs nothing); a miss is not: it
// may wait for Postgres or the worker's fill, so it is answered alone. Paths with '%' never come
// here (http_server.hpp).
void answer_batch(const std::vector<ReadRouteContext>& collections,
                  const std::vector<std::string_view>& paths, std::vector<bool>& ready,
                  const std::function<void()>& answer) {
    std::vector<std::string> keys(paths.size());
    std::vector<std::string> wanted;
    for (std::size_t i = 0; i < paths.size(); ++i) {
        for (const auto& ctx : collections) {
            // {prefix}/{id}, compared in place: this runs for every row read.
            const std::string_view path = paths[i], prefix = ctx.prefix;
            if (!ctx.rows || path.size() <= prefix.size() + 1 || !path.starts_with(prefix) ||
                path[prefix.size()] != '/') {
                continue;
            }
            auto key = item_key(ctx.prefix, path.substr(prefix.size() + 1));
            if (!key) {
                ready[i] = true;
                break;
            }
            keys[i] = *key;
            wanted.push_back(std::move(*key));
            break;
        }
    }
    auto fetched = collections.front().prefetch->prefetch(wanted);
    for (std::size_t i = 0; i < paths.size(); ++i) {
        if (!keys[i].empty() && fetched.found(keys[i])) ready[i] = true;
    }
    answer();
}

}  // namespace

void add_read_routes(http::Server& svr, const std::vector<ReadRouteContext>& collections) {
    bool batched = !collections.empty();
    for (const auto& ctx : collections) {
        svr.get_blocking(
            list_pattern(ctx.prefix),
            [ctx](const http::Request& req, http::Response& res) { answer(ctx, req, res, false); });
        if (!ctx.rows) continue;
        auto row = [ctx](const http::Request& req, http::Response& res) {
            answer(ctx, req, res, true);
        };
        if (ctx.prefetch) {
            svr.get_batched(row_pattern(ctx.prefix), row);
        } else {
            svr.get_blocking(row_pattern(ctx.prefix), row);
            batched = false;
        }
    }
    if (!batched) return;
    svr.set_batch_hook([collections](const std::vector<std::string_view>& paths,
                                     std::vector<bool>& ready,
                                     const std::function<void()>& answer) {
        answer_batch(collections, paths, ready, answer);
    });
}

std::map<std::string, std::set<std::string>> read_route_patterns(std::string_view prefix,
                                                                 bool rows) {
    if (!rows) return {{list_pattern(prefix), {"GET", "HEAD"}}};
    return {{list_pattern(prefix), {"GET", "HEAD"}}, {row_pattern(prefix), {"GET", "HEAD"}}};
}

}  // namespace revalidator::ingress
