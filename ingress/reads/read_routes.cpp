#include "read_routes.hpp"

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

// The read secret's verdict: false (and `res` a 401) when it refuses.
bool authorized(const ReadRouteContext& ctx, const http::Request& req, http::Response& res) {
    if (!ctx.read_auth) return true;
    auto bad = ctx.read_auth->check(req.header("Authorization"));
    if (!bad) return true;
    res.set_header("WWW-Authenticate", "Bearer realm=\"reads\"");
    http::reject(res, 401, "unauthorized", *bad);
    return false;
}

Conditions conditions(const http::Request& req) {
    return {.if_none_match = req.header("If-None-Match"),
            .gzip = accepts_gzip(req.header("Accept-Encoding"))};
}

void respond(const ReadRouteContext& ctx, ReadAnswer a, http::Response& res) {
    if (a.status == 200 || a.status == 304) {
        res.set_header("ETag", a.etag);
        res.set_header("Cache-Control", ctx.cache_control);
        res.set_header("Vary", "Accept-Encoding");
        res.set_header("Accept-Ranges", "none");
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

void answer(const ReadRouteContext& ctx, const http::Request& req, http::Response& res, bool row) {
    if (!authorized(ctx, req, res)) return;
    const auto c = conditions(req);
    respond(ctx, row ? ctx.reads.row(req.match(1), c) : ctx.reads.list(c), res);
}

// A batch of one route's reads, answered together by `answer_all` (Reads::rows: one multi-get
// for their rows; Reads::lists: one get of the list's version). What it answers is answered, and
// so is a refusal (401); the rest are deferred, to be answered alone by the route's single
// handler since they may wait: a row's miss in the miss lane, a new list version where its first
// read assembles it and the others wait for that one.
template <typename Read, typename Make>
void answer_batch(const ReadRouteContext& ctx, std::span<http::Server::Exchange> batch, Make make,
                  void (Reads::*answer_all)(std::span<Read>)) {
    std::vector<Read> reads;
    std::vector<std::size_t> of;  // the exchange of each read
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (!authorized(ctx, batch[i].request, batch[i].response)) continue;
        reads.push_back(make(batch[i].request));
        of.push_back(i);
    }
    (ctx.reads.*answer_all)(reads);
    for (std::size_t r = 0; r < reads.size(); ++r) {
        auto& x = batch[of[r]];
        if (reads[r].answer) {
            respond(ctx, std::move(*reads[r].answer), x.response);
        } else {
            x.deferred = true;
        }
    }
}

void answer_rows(const ReadRouteContext& ctx, std::span<http::Server::Exchange> batch) {
    answer_batch(
        ctx, batch,
        [](const http::Request& req) { return RowRead{.id = req.match(1), .c = conditions(req)}; },
        &Reads::rows);
}

void answer_lists(const ReadRouteContext& ctx, std::span<http::Server::Exchange> batch) {
    answer_batch(
        ctx, batch, [](const http::Request& req) { return ListRead{.c = conditions(req)}; },
        &Reads::lists);
}

}  // namespace

void add_read_routes(http::Server& svr, const ReadLanes& lanes,
                     const std::vector<ReadRouteContext>& collections) {
    if (collections.empty()) return;
    // Every row read passes the rows lane first, a miss too (only the multi-get tells), and there
    // a request waits for a share of a round trip, not for one: its bound is in batches.
    const auto hits = svr.add_lane({.name = "rows",
                                    .threads = lanes.hit_threads,
                                    .queue = lanes.queue * lanes.batch,
                                    .batch = lanes.batch});
    const auto misses =
        svr.add_lane({.name = "misses", .threads = lanes.miss_threads, .queue = lanes.queue});
    // A list's reads are batched as rows are: one get of its version answers them all while the
    // list does not change. A request deferred by its batch comes back to this lane, alone.
    const auto lists = svr.add_lane({.name = "lists",
                                     .threads = lanes.list_threads,
                                     .queue = lanes.queue,
                                     .batch = lanes.batch});
    for (const auto& ctx : collections) {
        if (!ctx.list) {
            // Nothing to read: answered on the loop, as cheap as the router's own 404.
            svr.get(list_pattern(ctx.prefix), [ctx](const http::Request& req, http::Response& res) {
                if (!authorized(ctx, req, res)) return;
                http::reject(res, 404, "no_list",
                             "collection at " + ctx.prefix +
                                 " keeps no list of all its rows (list = false); read its rows "
                                 "at " +
                                 ctx.prefix + "/{id}");
            });
        } else {
            svr.get_batched(
                list_pattern(ctx.prefix), lists,
                [ctx](std::span<http::Server::Exchange> batch) { answer_lists(ctx, batch); }, lists,
                [ctx](const http::Request& req, http::Response& res) {
                    answer(ctx, req, res, false);
                });
        }
        if (!ctx.rows) continue;
        svr.get_batched(
            row_pattern(ctx.prefix), hits,
            [ctx](std::span<http::Server::Exchange> batch) { answer_rows(ctx, batch); }, misses,
            [ctx](const http::Request& req, http::Response& res) { answer(ctx, req, res, true); });
    }
}

std::map<std::string, std::set<std::string>> read_route_patterns(std::string_view prefix,
                                                                 bool rows) {
    if (!rows) return {{list_pattern(prefix), {"GET"}}};
    return {{list_pattern(prefix), {"GET"}}, {row_pattern(prefix), {"GET"}}};
}

}  // namespace revalidator::ingress
